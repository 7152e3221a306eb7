#!/usr/bin/env bash
# `make soak ARGS="..."`: steady load on the real processes for a long time (30 min by default),
# printing RSS of every process, Redis memory and the count of non-buffer keys over time.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$ROOT"
ensure_local_stack
node tools/loadtest/dist/soak/cli.js "$@"
