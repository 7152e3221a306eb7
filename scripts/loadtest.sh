#!/usr/bin/env bash
# `make loadtest ARGS="..."`: installs what is missing, builds, and runs tools/loadtest
# (`--help` lists its options). Without --url it starts a stack of its own.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$ROOT"
ensure_local_stack
node tools/loadtest/dist/cli.js "$@"
