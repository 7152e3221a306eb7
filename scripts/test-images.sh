#!/usr/bin/env bash
# Chooses the container images for the integration tests and exports SPOOL_TEST_REDIS_IMAGE and
# SPOOL_TEST_S3_IMAGE. The upstream images (packages/testkit/images.json) are used when present
# or pullable; where no registry is reachable (this project's build machines), stand-ins are built
# from the machine's own files and reused on later runs:
#   - Redis: the Debian `redis-server` and `redis-cli` binaries and the libraries `ldd` lists;
#   - S3: s3rver (docker/test-images/s3) on the Node 24 binary, MinIO-compatible in port,
#     command and credential variables, so the harness starts either one the same way.
# Sourced by scripts/test.sh; run directly (`make images`) it only builds and reports.

# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

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

if [ "${BASH_SOURCE[0]}" = "$0" ]; then
  ensure_node
  ensure_docker
  ensure_test_images
fi
