#!/usr/bin/env bash
# `make loadtest|test-chaos|soak|bench ARGS="..."`: installs what is missing, builds, and runs one
# of the tools that start a local stack of their own. `--help` lists a tool's options.
#   loadtest  tools/loadtest: fill production-size buffers, then prove nothing was lost or doubled
#   chaos     faults under load, then a count of what survived (exit 1 on any loss or duplicate)
#   soak      steady load for a long time, watching every process's memory
#   bench     each benchmark scenario beside its baseline (bench/run.mjs)
#   spool     the spool command (tools/cli): `status` (a live table), `tail STREAM`, `verify`
#   query     SQL with the flusher's DuckDB (scripts/query.mjs), e.g. on make dev's objects
source "$(dirname "${BASH_SOURCE[0]}")/lib/installers.sh"
cd "$ROOT"

tool=${1:-}
shift || true
case "$tool" in
  loadtest) entry=tools/loadtest/dist/cli.js ;;
  chaos) entry=tools/loadtest/dist/chaos/cli.js ;;
  soak) entry=tools/loadtest/dist/soak/cli.js ;;
  bench) entry=bench/run.mjs ;;
  spool) entry=tools/cli/dist/cli.js ;;
  query) entry=scripts/query.mjs ;;
  *) die "usage: scripts/tool.sh loadtest|chaos|soak|bench|spool|query [options] (got '$tool')" ;;
esac
if [ "$tool" = query ]; then
  ensure_toolchain >/dev/null
  exec node "$entry" "$@"
fi
if [ "$tool" = spool ]; then
  # Quietly: the command's own output is what the user asked for.
  ensure_toolchain >/dev/null
  pnpm -s build >/dev/null 2>&1 || die "the build failed: run pnpm build to see why"
  exec node "$entry" "$@"
fi
# Its options need nothing built or installed (the others' --help is in their build).
if [ "$tool" = bench ] && [[ " $* " == *" --help "* ]]; then
  ensure_toolchain >/dev/null
  exec node "$entry" --help
fi
ensure_local_stack
if [ "$tool" = bench ]; then
  command -v redis-benchmark >/dev/null || apt_install redis-tools
  ensure_apt_tool pigz "pigz --version 2>&1 | awk '{print \$2}'" # the gzip baseline of bench d
  ensure_apt_tool zstd "zstd --version | grep -o 'v[0-9.]*'"   # the zstd baseline of bench j
fi
node "$entry" "$@"
