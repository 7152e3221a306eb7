#!/usr/bin/env bash
# `make loadtest ARGS="..."`: installs what is missing, builds, and runs tools/loadtest
# (`--help` lists its options). Without --url it starts a stack of its own.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$ROOT"
ensure_toolchain
ensure_redis_server
phase "build (tsc -b)" pnpm -s build
node tools/loadtest/dist/cli.js "$@"
