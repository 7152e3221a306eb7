#!/usr/bin/env bash
# Logging for the scripts: a line, a warning, a fatal error, and phases that print their duration
# and a summary at the end. Sourced, never run on its own.
[ -n "${SPOOL_LOG_LOADED:-}" ] && return 0
SPOOL_LOG_LOADED=1

# Colours on a terminal only: a CI log or a pipe gets plain text.
if [ -t 2 ]; then
  _blue=$'\033[1;34m' _yellow=$'\033[1;33m' _red=$'\033[1;31m' _plain=$'\033[0m'
else
  _blue='' _yellow='' _red='' _plain=''
fi
log() { printf '%s[spool]%s %s\n' "$_blue" "$_plain" "$*"; }
warn() { printf '%s[spool]%s %s\n' "$_yellow" "$_plain" "$*" >&2; }
die() {
  printf '%s[spool] %s%s\n' "$_red" "$*" "$_plain" >&2
  exit 1
}

PHASE_TIMES=()
# phase NAME COMMAND...: runs one phase, prints its duration, and records it for the summary.
# Returns the command's status, so `phase NAME cmd || status=1` sees a failure.
phase() {
  local name=$1 rc=0
  shift
  local start=$SECONDS
  log "── $name"
  "$@" || rc=$?
  local took=$((SECONDS - start))
  PHASE_TIMES+=("$(printf '%-28s %4ss' "$name" "$took")")
  if [ "$rc" = 0 ]; then
    log "── $name done in ${took}s"
  else
    warn "── $name FAILED (exit $rc) after ${took}s"
  fi
  return "$rc"
}
print_phase_summary() {
  log "phase durations:"
  for line in "${PHASE_TIMES[@]}"; do printf '    %s\n' "$line"; done
}
