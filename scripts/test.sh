#!/usr/bin/env bash
# `make test`: installs what is missing, then lint, type-check, unit tests, integration tests
# against containers (scripts/lib/images.sh) or against running services when TEST_REDIS_URL and
# TEST_S3_ENDPOINT are set, the short chaos run, and the docker-compose smoke test with the built
# images.
source "$(dirname "${BASH_SOURCE[0]}")/lib/images.sh"
cd "$ROOT"

RESULTS="$TOOLS/test-results"
mkdir -p "$RESULTS"
rm -f "$RESULTS"/*.json

jest() {
  local project=$1
  JEST_RUNS+=("$project")
  SPOOL_TEST_PROJECT=$project node --experimental-vm-modules --no-warnings=ExperimentalWarning \
    node_modules/jest/bin/jest.js --json --outputFile="$RESULTS/$project.json" "${@:2}"
}

USE_DOCKER=1
if [ -n "${TEST_REDIS_URL:-}" ] && [ -n "${TEST_S3_ENDPOINT:-}" ] && ! docker info >/dev/null 2>&1; then
  USE_DOCKER=0
fi

prepare_services() {
  if [ -n "${TEST_REDIS_URL:-}" ] && [ -n "${TEST_S3_ENDPOINT:-}" ]; then
    log "using running services: TEST_REDIS_URL=$TEST_REDIS_URL TEST_S3_ENDPOINT=$TEST_S3_ENDPOINT"
  else
    ensure_docker
  fi
  if [ "$USE_DOCKER" = 1 ]; then
    ensure_compose
    ensure_test_images
  fi
  ensure_redis_server # the loadtest's own stack runs one
  ensure_s3_standin   # the local stacks' S3 (installed here, not by the first of several test files at once)
  ensure_chromium     # the browser SDKs' tests
  ensure_openssl      # the certificates of the cluster TLS test
  ensure_promtool     # the alert rules' checks and unit tests
}

# The closing line counts every test of every Jest run, passed and failed, and names the runs that
# left no results (a run that crashed, or Jest failing to write them: it cannot serialize a
# failure that quotes a circular object), so "0 failed" is never said of tests that were not counted;
# and the checks that did not run (NOT_RUN), which a skip would otherwise count among the passed.
print_totals() {
  local IFS='|'
  node -e '
    const fs = require("node:fs");
    const [dir, notRun, ...runs] = process.argv.slice(1);
    let passed = 0, failed = 0;
    const missing = [];
    for (const run of runs) {
      const file = `${dir}/${run}.json`;
      if (!fs.existsSync(file)) { missing.push(run); continue; }
      const r = JSON.parse(fs.readFileSync(file, "utf8"));
      passed += r.numPassedTests; failed += r.numFailedTests + r.numRuntimeErrorTestSuites;
    }
    const uncounted = missing.length ? `; no results from: ${missing.join(", ")} (see its output above)` : "";
    const skipped = notRun ? `; NOT RUN: ${notRun.split("|").join("; ")}` : "";
    console.log(`tests: ${passed} passed, ${failed} failed${uncounted}${skipped}`);
  ' "$RESULTS" "${NOT_RUN[*]}" "${JEST_RUNS[@]}"
}

JEST_RUNS=()
NOT_RUN=()

# scripts/audit.sh exits 3 where it could not check: not a failure, and not a pass either.
audit() {
  local rc=0
  bash scripts/audit.sh || rc=$?
  if [ "$rc" = 3 ]; then
    NOT_RUN+=("the audit (the registry's audit endpoint did not answer)")
    return 0
  fi
  return "$rc"
}

status=0
ensure_toolchain
phase "lint (biome)" pnpm -s lint
phase "typecheck + build (tsc -b)" pnpm -s typecheck
# Known vulnerabilities of high severity fail the run (scripts/audit.sh says when it cannot check).
phase "audit (pnpm audit, high)" audit || status=1
phase "unit tests" jest unit || status=1
phase "test services" prepare_services
phase "integration tests" jest integration || status=1
phase "chaos (short)" node tools/loadtest/dist/chaos/cli.js --duration 20s --s3-outage 4s --fault 2s || status=1
if [ "$USE_DOCKER" = 1 ]; then
  phase "images" build_images
  phase "observability images" ensure_observability_images
  phase "compose smoke test" jest compose || status=1
else
  warn "NOT RUN: the docker-compose smoke test (no Docker daemon; services came from TEST_REDIS_URL / TEST_S3_ENDPOINT)"
  NOT_RUN+=("the docker-compose smoke test (no Docker daemon)")
fi
print_phase_summary
print_totals
exit $status
