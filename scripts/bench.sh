#!/usr/bin/env bash
# `make bench ARGS="a c"`: installs what is missing, builds, and runs the benchmark scenarios
# (bench/run.mjs), each beside its baseline. Not part of `make test`.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$ROOT"
ensure_toolchain
ensure_redis_server
command -v redis-benchmark >/dev/null || apt_install redis-tools
phase "build (tsc -b)" pnpm -s build
ensure_s3_standin
node bench/run.mjs "$@"
