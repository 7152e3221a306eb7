#!/usr/bin/env bash
# `make images`: builds the production images spool/ingest and spool/flusher (docker/*.Dockerfile).
# The base is the official node:24-bookworm-slim when it is present or pullable; where no registry
# can be reached, a local stand-in (Debian bookworm by debootstrap, plus the Node 24 binary and npm)
# is built once and reused. A CA the host trusts beyond the system bundle (NODE_EXTRA_CA_CERTS,
# e.g. a TLS-intercepting proxy's) is passed to the build stages, never to the final images.
#   IMAGE_TAG=dev   tag of the built images
source "$(dirname "${BASH_SOURCE[0]}")/test-images.sh"
cd "$ROOT"

IMAGE_TAG=${IMAGE_TAG:-dev}
UPSTREAM_NODE_IMAGE=node:24-bookworm-slim
LOCAL_NODE_IMAGE=spool-local/node:24-bookworm

debian_mirror() {
  sed -n 's/^URIs: *\(http[^ ]*\).*/\1/p' /etc/apt/sources.list.d/debian.sources 2>/dev/null | head -1 |
    grep . || echo http://deb.debian.org/debian
}

# A Debian bookworm root file system with Node 24 and npm, a `node` user (uid 1000, as in the
# official image), imported as an image.
build_node_standin() {
  local tag=$1 rootfs
  command -v debootstrap >/dev/null || apt_install debootstrap
  rootfs=$(mktemp -d)
  debootstrap --variant=minbase bookworm "$rootfs" "$(debian_mirror)" >/dev/null
  install -D "$(readlink -f "$(command -v node)")" "$rootfs/usr/local/bin/node"
  mkdir -p "$rootfs/usr/local/lib/node_modules"
  cp -r "$(dirname "$(readlink -f "$(command -v npm)")")/.." "$rootfs/usr/local/lib/node_modules/npm"
  ln -sf ../lib/node_modules/npm/bin/npm-cli.js "$rootfs/usr/local/bin/npm"
  ln -sf ../lib/node_modules/npm/bin/npx-cli.js "$rootfs/usr/local/bin/npx"
  chroot "$rootfs" useradd --uid 1000 --create-home --shell /bin/sh node
  rm -rf "$rootfs"/var/lib/apt/lists/* "$rootfs"/var/cache/apt/*
  tar -C "$rootfs" -c . | docker import --change 'ENV PATH=/usr/local/bin:/usr/local/sbin:/usr/sbin:/usr/bin:/sbin:/bin' \
    --change 'CMD ["node"]' - "$tag" >/dev/null
  rm -rf "$rootfs"
}

pick_node_image() {
  if [ -n "${NODE_IMAGE:-}" ]; then
    log "node base image: $NODE_IMAGE (from NODE_IMAGE)"
  elif have_image "$UPSTREAM_NODE_IMAGE" || try_pull "$UPSTREAM_NODE_IMAGE"; then
    NODE_IMAGE=$UPSTREAM_NODE_IMAGE
  elif have_image "$LOCAL_NODE_IMAGE"; then
    log "node base image: $UPSTREAM_NODE_IMAGE cannot be pulled; local stand-in $LOCAL_NODE_IMAGE already built, reusing"
    NODE_IMAGE=$LOCAL_NODE_IMAGE
  else
    log "node base image: $UPSTREAM_NODE_IMAGE cannot be pulled; building $LOCAL_NODE_IMAGE (debootstrap, about 30 s)"
    build_node_standin "$LOCAL_NODE_IMAGE"
    NODE_IMAGE=$LOCAL_NODE_IMAGE
  fi
  export NODE_IMAGE
}

build_app_image() {
  local app=$1
  docker build -q -f "docker/$app.Dockerfile" --build-arg "NODE_IMAGE=$NODE_IMAGE" \
    -t "spool/$app:$IMAGE_TAG" . >/dev/null
  log "built spool/$app:$IMAGE_TAG ($(docker image inspect -f '{{.Size}}' "spool/$app:$IMAGE_TAG" | awk '{printf "%.0f MB", $1/1e6}'))"
}

# The host's extra CA goes into the build context for the build stages, and out again after.
with_host_ca() {
  local ca=docker/extra-ca/host-extra-ca.pem
  if [ -n "${NODE_EXTRA_CA_CERTS:-}" ] && [ -f "$NODE_EXTRA_CA_CERTS" ]; then
    cp "$NODE_EXTRA_CA_CERTS" "$ca"
    trap 'rm -f "$ROOT/docker/extra-ca/host-extra-ca.pem"' RETURN
  fi
  "$@"
}

build_images() {
  pick_node_image
  with_host_ca build_app_image ingest
  with_host_ca build_app_image flusher
}

if [ "${BASH_SOURCE[0]}" = "$0" ]; then
  ensure_node
  ensure_docker
  phase "images" build_images
fi
