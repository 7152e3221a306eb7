#!/usr/bin/env bash
# The "ensure X" steps of the scripts: each installs what is missing, or says it is already there.
# Sourced, never run on its own.
set -euo pipefail
[ -n "${SPOOL_INSTALLERS_LOADED:-}" ] && return 0
SPOOL_INSTALLERS_LOADED=1
# shellcheck source=log.sh
source "$(dirname "${BASH_SOURCE[0]}")/log.sh"

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
TOOLS="$ROOT/.tools"
NODE_VERSION_WANTED=24
NODE_MIN="22.15+ (23.8+ in 23)" # zlib zstd (the flusher, the CLI) came in 22.15 and 23.8, JSON.rawJSON (the ingest) before
PNPM_VERSION=$(sed -n 's/.*"packageManager": "pnpm@\([^"]*\)".*/\1/p' "$ROOT/package.json")


is_root() { [ "$(id -u)" = 0 ]; }
is_debian() { [ -f /etc/debian_version ] && command -v apt-get >/dev/null; }

APT_UPDATED=0
apt_install() {
  if ! is_root || ! is_debian; then
    die "missing: $* — install it (e.g. 'sudo apt-get install -y $*' on Debian/Ubuntu) and run again"
  fi
  if [ "$APT_UPDATED" = 0 ]; then
    DEBIAN_FRONTEND=noninteractive apt-get update -qq
    APT_UPDATED=1
  fi
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}

# node_new_enough BINARY: true when that node has what Spool uses (zlib's zstd, JSON.rawJSON), as
# the services ask at start (packages/shared/src/node-version.ts): 22.15+, or 23.8+ in 23; a
# version compare took 23.0-23.7, which lack zstd.
node_new_enough() {
  "$1" -e 'process.exit(typeof require("node:zlib").createZstdCompress === "function" && typeof JSON.rawJSON === "function" ? 0 : 1)' 2>/dev/null
}

# Node 22.15+ on PATH: the system one when new enough, else the official binary from the npm
# package `node@24`, kept in .tools/ (the machine's Node 20 is end-of-life, and testcontainers 12
# crashes on it at import).
ensure_node() {
  local local_bin="$TOOLS/node/node_modules/node/bin"
  if [ -x "$local_bin/node" ] && node_new_enough "$local_bin/node"; then
    export PATH="$local_bin:$PATH"
    log "node $(node --version) (.tools) already installed, skipping"
    return
  fi
  if command -v node >/dev/null && node_new_enough node; then
    log "node $(node --version) (system) is new enough, skipping"
    return
  fi
  command -v npm >/dev/null ||
    die "missing: Node.js $NODE_MIN (and no npm to fetch it) — install Node.js $NODE_VERSION_WANTED from https://nodejs.org and run again"
  log "system node is $(node --version 2>/dev/null || echo absent); installing node@$NODE_VERSION_WANTED into .tools/node"
  # From scratch: npm leaves a damaged binary (truncated, emptied) where it is, and says it installed.
  rm -rf "$TOOLS/node"
  npm_install_or_die "$TOOLS/node" "node@$NODE_VERSION_WANTED"
  node_new_enough "$local_bin/node" ||
    die "node@$NODE_VERSION_WANTED was installed into .tools/node, but $local_bin/node does not run as Node $NODE_MIN: remove .tools/node and run again"
  export PATH="$local_bin:$PATH"
  log "node $(node --version) installed"
}

# pnpm at the version pinned by package.json's packageManager, kept in .tools/.
ensure_pnpm() {
  local bin="$TOOLS/pnpm/node_modules/.bin"
  if [ -x "$bin/pnpm" ] && [ "$("$bin/pnpm" --version 2>/dev/null)" = "$PNPM_VERSION" ]; then
    log "pnpm $PNPM_VERSION already installed, skipping"
  else
    log "installing pnpm@$PNPM_VERSION into .tools/pnpm"
    rm -rf "$TOOLS/pnpm"
    npm_install_or_die "$TOOLS/pnpm" "pnpm@$PNPM_VERSION"
    [ "$("$bin/pnpm" --version 2>/dev/null)" = "$PNPM_VERSION" ] ||
      die "pnpm@$PNPM_VERSION was installed into .tools/pnpm, but $bin/pnpm does not say it is that version: remove .tools/pnpm and run again"
  fi
  export PATH="$bin:$PATH"
}

# npm_install_or_die DIR PACKAGE: npm's install of PACKAGE into DIR, or a stop that says why. Under
# `phase` errexit is off (`"$@" || rc=$?`): a failed install went on to say "installed", and the
# run failed later on something else (`pnpm: command not found`; a review's run without a registry).
npm_install_or_die() {
  local dir=$1 package=$2 output
  if ! output=$(npm install --prefix "$dir" --no-audit --no-fund --loglevel=error "$package" 2>&1); then
    printf '%s\n' "$output" | tail -5 >&2
    die "could not install $package from the npm registry ($(npm config get registry 2>/dev/null)): is it reachable, and its certificate trusted (NODE_EXTRA_CA_CERTS behind a proxy)?"
  fi
}

# install_stamped DIR HASH SKIPPED COMMAND...: runs COMMAND in DIR unless DIR/node_modules holds
# the stamp of an install of HASH (the hash of what it installs from); says SKIPPED if so. The
# stamp is written only once COMMAND succeeded: an install killed partway leaves a node_modules
# that is not one. (`|| return`: under `phase`, `"$@" || rc=$?`, errexit is off.)
install_stamped() {
  local dir=$1 want=$2 skipped=$3
  shift 3
  local stamp="$dir/node_modules/.spool-lock-hash"
  if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
    log "$skipped"
    return
  fi
  (cd "$dir" && "$@") || return
  echo "$want" >"$stamp"
}

# Dependencies from the frozen lockfile; skipped when node_modules matches the lockfile already.
ensure_deps() {
  local want
  want=$(cat "$ROOT/pnpm-lock.yaml" "$ROOT/pnpm-workspace.yaml" "$ROOT"/package.json "$ROOT"/{apps,packages,tools,tests}/*/package.json | sha256sum | cut -c1-16)
  install_stamped "$ROOT" "$want" "dependencies match pnpm-lock.yaml, skipping install" \
    pnpm install --frozen-lockfile --reporter=append-only
}

# ensure_apt_tool COMMAND VERSION: COMMAND, from Debian's package of the same name unless it is on
# the PATH already; VERSION is a shell command printing the installed version, for the log.
ensure_apt_tool() {
  local command=$1 version=$2
  if command -v "$command" >/dev/null; then
    log "$command $(eval "$version" 2>/dev/null) already installed, skipping"
    return
  fi
  log "installing $command through apt"
  apt_install "$command"
}

ensure_redis_server() {
  ensure_apt_tool redis-server "redis-server --version | sed 's/.*v=\([^ ]*\).*/\1/'"
}

# openssl, which the Redis Cluster TLS test makes its certificates with (tests/cluster).
ensure_openssl() {
  ensure_apt_tool openssl "openssl version | awk '{print \$2}'"
}

# promtool (Debian's prometheus package), which checks and unit-tests the alert rules (tests/status).
ensure_promtool() {
  if command -v promtool >/dev/null; then
    log "promtool $(promtool --version 2>&1 | awk 'NR==1{print $3}') already installed, skipping"
    return
  fi
  log "installing promtool (Debian's prometheus package) through apt"
  apt_install prometheus
}

# Debian's Chromium, for the browser SDK tests (tests/sdks): a browser is never downloaded.
ensure_chromium() {
  ensure_apt_tool chromium "chromium --version | awk '{print \$2}'"
}

# A reachable Docker daemon; as root on Debian, install docker.io and start dockerd when absent.
ensure_docker() {
  if command -v docker >/dev/null && docker info >/dev/null 2>&1; then
    log "docker daemon reachable, skipping"
    return
  fi
  # dockerd lives in /usr/sbin, which a user's PATH lacks: installed, it was called missing.
  if ! command -v dockerd >/dev/null && [ ! -x /usr/sbin/dockerd ] && [ ! -x /usr/bin/dockerd ]; then
    is_root && is_debian ||
      die "missing: a Docker daemon — install Docker (https://docs.docker.com/engine/install/) and start it, or set TEST_REDIS_URL and TEST_S3_ENDPOINT to run against existing services"
    log "installing docker.io through apt"
    apt_install docker.io
  fi
  if ! docker info >/dev/null 2>&1; then
    is_root || die "the Docker daemon is not running and only root can start it here: start it (e.g. 'sudo systemctl start docker') and run again"
    mkdir -p "$TOOLS"
    log "starting dockerd (log: .tools/dockerd.log)"
    nohup dockerd >"$TOOLS/dockerd.log" 2>&1 &
    for _ in $(seq 1 60); do
      docker info >/dev/null 2>&1 && break
      sleep 1
    done
    docker info >/dev/null 2>&1 || die "dockerd did not come up within 60 s; see .tools/dockerd.log"
  fi
  log "docker daemon is up"
}

ensure_toolchain() {
  phase "node" ensure_node
  phase "pnpm" ensure_pnpm
  phase "dependencies" ensure_deps
}

# The S3 stand-in's own dependencies (docker/test-images/s3: s3rver, outside the workspace), as
# a phase of its own: a failed install (offline) is then named before anything starts. (A stack
# started without this installs them itself: packages/testkit/src/local-stack/s3-standin.ts.)
# Its stamp's rule is written once more, in s3-standin.ts (which runs before a build, or without
# these scripts): the first 16 hex digits of the lock's sha256.
ensure_s3_standin() {
  local standin="$ROOT/docker/test-images/s3" want
  want=$(sha256sum "$standin/package-lock.json" | cut -c1-16)
  install_stamped "$standin" "$want" "the S3 stand-in's dependencies are installed, skipping" \
    npm ci --omit=dev --no-audit --no-fund --loglevel=error
}

# What the tools that start a local stack (make dev, loadtest, chaos, soak, bench) need: the
# toolchain, redis-server, the S3 stand-in's dependencies and a build.
ensure_local_stack() {
  ensure_toolchain
  ensure_redis_server
  phase "S3 stand-in" ensure_s3_standin
  phase "build (tsc -b)" pnpm -s build
}

ensure_compose() {
  ensure_apt_tool docker-compose "docker-compose version --short"
}
