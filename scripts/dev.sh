#!/usr/bin/env bash
# `make dev`: installs what is missing, builds, and runs the whole pipeline locally in the
# foreground (tools/loadtest/src/dev/cli.ts, on the local stack): Redis unless REDIS_URL is set,
# the S3 stand-in unless S3_ENDPOINT is set, the ingest and the flusher. Ctrl-C stops everything;
# the next run reuses .data/. Override any variable from the environment (README, Configuration).
source "$(dirname "${BASH_SOURCE[0]}")/lib/installers.sh"
cd "$ROOT"
# Ctrl-C while installing or building stops here: bash waited for the step, which pnpm and turbo
# end normally on SIGINT, then went on to start the pipeline (a review's run). (exec drops it.)
trap 'warn "interrupted"; exit 130' INT TERM

ensure_toolchain
[ -n "${REDIS_URL:-}" ] || ensure_redis_server
[ -n "${S3_ENDPOINT:-}" ] || phase "S3 stand-in" ensure_s3_standin
phase "build (tsc -b)" pnpm -s build
exec node tools/loadtest/dist/dev/cli.js
