#!/usr/bin/env bash
# `make soak ARGS="..."`: steady load on the real processes for a long time (30 min by default),
# printing RSS of every process, Redis memory and the count of non-buffer keys over time.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$ROOT"
ensure_toolchain
ensure_redis_server
phase "build (tsc -b)" pnpm -s build
ensure_s3_standin
node tools/loadtest/dist/soak/cli.js "$@"
