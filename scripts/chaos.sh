#!/usr/bin/env bash
# `make test-chaos ARGS="..."`: the real processes under load with faults injected on a schedule
# (tools/loadtest/src/chaos); prints what was acknowledged, landed, lost and duplicated. Exits 1
# on any duplicate, any event stored for a refused request, any sealed key left behind, or any
# acknowledged event lost with appendfsync always.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$ROOT"
ensure_local_stack
node tools/loadtest/dist/chaos/cli.js "$@"
