#!/usr/bin/env bash
# `pnpm audit` at high severity, as a phase of `make test`: exits 1 (printing the report) on a
# known vulnerability of high or critical severity; exits 3 saying NOT RUN, with the reason,
# where the registry's audit endpoint cannot be reached (this project's build machines get 405):
# make test goes on, and names it in its closing line as not run.
# The registry is the project's (npm's), or the one SPOOL_AUDIT_REGISTRY names.
source "$(dirname "${BASH_SOURCE[0]}")/lib/installers.sh"
cd "$ROOT"

args=(--audit-level high)
[ -n "${SPOOL_AUDIT_REGISTRY:-}" ] && args+=(--registry "$SPOOL_AUDIT_REGISTRY")
out=$(pnpm audit "${args[@]}" 2>&1) && rc=0 || rc=$?
if [ "$rc" = 0 ]; then
  log "pnpm audit: no known vulnerability of high severity or above"
elif grep -q 'ERR_PNPM_AUDIT_BAD_RESPONSE\|ERR_PNPM_AUDIT_ENDPOINT' <<<"$out"; then
  warn "NOT RUN: pnpm audit (the registry's audit endpoint is not reachable from here: $(grep -o 'responded with [0-9]*' <<<"$out" | head -1))"
  exit 3
else
  printf '%s\n' "$out"
  exit 1
fi
