#!/usr/bin/env bash
# `make bench ARGS="a c"`: installs what is missing, builds, and runs the benchmark scenarios
# (bench/run.mjs), each beside its baseline. Not part of `make test`.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$ROOT"
ensure_local_stack
command -v redis-benchmark >/dev/null || apt_install redis-tools
node bench/run.mjs "$@"
