#!/usr/bin/env bash
# The container images: those the integration tests start (ensure_test_images) and Spool's own
# production images (build_images). Sourced, never run on its own.
#
# Test images: SPOOL_TEST_REDIS_IMAGE and SPOOL_TEST_S3_IMAGE are exported. The upstream images
# (packages/testkit/images.json) are used when present or pullable; where no registry is reachable
# (this project's build machines), stand-ins are built from the machine's own files and reused:
#   - Redis: the Debian `redis-server` and `redis-cli` binaries and the libraries `ldd` lists;
#   - S3: s3rver (docker/test-images/s3) on the Node 24 binary, MinIO-compatible in port,
#     command and credential variables, so the harness starts either one the same way.
# Production images: the base is the official node:24-bookworm-slim when present or pullable;
# where no registry can be reached, a local stand-in (Debian bookworm by debootstrap, plus the
# Node 24 binary and npm) is built once and reused. A CA the host trusts beyond the system bundle
# (NODE_EXTRA_CA_CERTS, e.g. a TLS-intercepting proxy's) is passed to the build stages, never to
# the final images. IMAGE_TAG (default dev) tags them.
[ -n "${SPOOL_IMAGES_LOADED:-}" ] && return 0
SPOOL_IMAGES_LOADED=1
# shellcheck source=installers.sh
source "$(dirname "${BASH_SOURCE[0]}")/installers.sh"

upstream_image() { node -p "require('$ROOT/packages/testkit/images.json').$1"; }

have_image() { docker image inspect "$1" >/dev/null 2>&1; }

try_pull() { timeout 120 docker pull -q "$1" >/dev/null 2>&1; }

# copy_with_libs BINARY ROOTFS: copies a binary and every shared library it loads into ROOTFS.
copy_with_libs() {
  local bin dest=$2
  bin=$(readlink -f "$1")
  install -D "$bin" "$dest$3"
  ldd "$bin" | grep -o '/[^ ]*' | while read -r lib; do
    install -D "$(readlink -f "$lib")" "$dest$lib"
  done
}

build_redis_standin() {
  local tag=$1 rootfs
  ensure_redis_server
  rootfs=$(mktemp -d)
  copy_with_libs /usr/bin/redis-server "$rootfs" /usr/local/bin/redis-server
  copy_with_libs /usr/bin/redis-cli "$rootfs" /usr/local/bin/redis-cli
  mkdir -p "$rootfs/data" "$rootfs/tmp"
  chmod 1777 "$rootfs/tmp"
  tar -C "$rootfs" -c . | docker import \
    --change 'ENV PATH=/usr/local/bin' --change 'WORKDIR /data' --change 'EXPOSE 6379' \
    --change 'CMD ["redis-server"]' - "$tag" >/dev/null
  rm -rf "$rootfs"
}

build_s3_standin() {
  local tag=$1 rootfs
  rootfs=$(mktemp -d)
  copy_with_libs "$(command -v node)" "$rootfs" /usr/local/bin/node
  mkdir -p "$rootfs/opt/s3" "$rootfs/data" "$rootfs/tmp"
  chmod 1777 "$rootfs/tmp"
  cp "$ROOT"/docker/test-images/s3/{*.mjs,package.json,package-lock.json} "$rootfs/opt/s3/"
  (cd "$rootfs/opt/s3" && npm ci --omit=dev --no-audit --no-fund --loglevel=error >/dev/null)
  tar -C "$rootfs" -c . | docker import \
    --change 'ENV PATH=/usr/local/bin' --change 'EXPOSE 9000' \
    --change 'ENTRYPOINT ["/usr/local/bin/node", "/opt/s3/serve.mjs"]' --change 'CMD ["server", "/data"]' \
    - "$tag" >/dev/null
  rm -rf "$rootfs"
}

# Prometheus for the compose file's observability profile: Debian's prometheus binary (it needs
# only libc) and nothing else; the configuration and rules are mounted by docker/compose.yml.
build_prometheus_standin() {
  local tag=$1 rootfs
  ensure_promtool
  rootfs=$(mktemp -d)
  copy_with_libs /usr/bin/prometheus "$rootfs" /usr/local/bin/prometheus
  mkdir -p "$rootfs/prometheus" "$rootfs/etc/prometheus" "$rootfs/tmp"
  chmod 1777 "$rootfs/tmp" "$rootfs/prometheus"
  tar -C "$rootfs" -c . | docker import \
    --change 'ENV PATH=/usr/local/bin' --change 'WORKDIR /prometheus' --change 'EXPOSE 9090' \
    --change 'ENTRYPOINT ["/usr/local/bin/prometheus"]' \
    --change 'CMD ["--config.file=/etc/prometheus/prometheus.yml", "--storage.tsdb.path=/prometheus"]' \
    - "$tag" >/dev/null
  rm -rf "$rootfs"
}

# The observability profile's images: Prometheus (a stand-in where none can be pulled) and
# Grafana, which has no Debian package to build one from: where it cannot be pulled, the
# profile's Grafana does not start, and this says so.
ensure_observability_images() {
  pick_image prometheus SPOOL_PROMETHEUS_IMAGE build_prometheus_standin spool-local/prometheus:debian-2.42
  local grafana=${SPOOL_GRAFANA_IMAGE:-$(upstream_image grafana)}
  if have_image "$grafana" || try_pull "$grafana"; then
    export SPOOL_GRAFANA_IMAGE=$grafana
    log "grafana image: $grafana"
  else
    warn "grafana image: $grafana cannot be pulled, and no local one can be built (no Debian package): the observability profile's Grafana will not start here"
  fi
}

# pick_image KIND VAR BUILDER STANDIN_TAG: sets VAR to the image to use for KIND.
pick_image() {
  local kind=$1 var=$2 builder=$3 standin=$4 upstream
  if [ -n "${!var:-}" ]; then
    log "$kind image: ${!var} (from $var)"
    return
  fi
  upstream=$(upstream_image "$kind")
  if have_image "$upstream" || try_pull "$upstream"; then
    export "$var=$upstream"
  elif have_image "$standin"; then
    log "$kind image: $upstream cannot be pulled; local stand-in $standin already built, reusing"
    export "$var=$standin"
  else
    log "$kind image: $upstream cannot be pulled; building local stand-in $standin"
    "$builder" "$standin"
    export "$var=$standin"
  fi
  log "$kind image: ${!var}"
}

ensure_test_images() {
  local s3_hash
  s3_hash=$(cat "$ROOT"/docker/test-images/s3/{*.mjs,package.json,package-lock.json} "$(command -v node)" | sha256sum | cut -c1-12)
  pick_image redis SPOOL_TEST_REDIS_IMAGE build_redis_standin spool-local/redis:7-debian-2
  pick_image s3 SPOOL_TEST_S3_IMAGE build_s3_standin "spool-local/s3rver:$s3_hash"
  # The Ryuk reaper image cannot be pulled either; the harness stops its containers itself.
  if [[ "$SPOOL_TEST_REDIS_IMAGE$SPOOL_TEST_S3_IMAGE" == *spool-local/* ]] &&
    [ -z "$(docker images -q testcontainers/ryuk 2>/dev/null)" ]; then
    export TESTCONTAINERS_RYUK_DISABLED=true
    log "no registry and no Ryuk image: TESTCONTAINERS_RYUK_DISABLED=true (the harness stops its own containers)"
  fi
}

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
