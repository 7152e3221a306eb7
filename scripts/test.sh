#!/usr/bin/env bash
# `make test`: installs what is missing, then lint, type-check, unit and integration tests.
# Integration tests run against containers (see scripts/test-images.sh), or against running
# services when TEST_REDIS_URL and TEST_S3_ENDPOINT are set.
source "$(dirname "${BASH_SOURCE[0]}")/test-images.sh"
cd "$ROOT"

RESULTS="$TOOLS/test-results"
mkdir -p "$RESULTS"
rm -f "$RESULTS"/*.json

jest() {
  local project=$1
  SPOOL_TEST_PROJECT=$project node --experimental-vm-modules --no-warnings=ExperimentalWarning \
    node_modules/jest/bin/jest.js --json --outputFile="$RESULTS/$project.json" "${@:2}"
}

prepare_services() {
  if [ -n "${TEST_REDIS_URL:-}" ] && [ -n "${TEST_S3_ENDPOINT:-}" ]; then
    log "using running services: TEST_REDIS_URL=$TEST_REDIS_URL TEST_S3_ENDPOINT=$TEST_S3_ENDPOINT"
    return
  fi
  ensure_docker
  ensure_test_images
}

# The closing line counts every test of both runs, passed and failed.
print_totals() {
  node -e '
    const fs = require("node:fs");
    let passed = 0, failed = 0;
    for (const f of fs.readdirSync(process.argv[1])) {
      const r = JSON.parse(fs.readFileSync(`${process.argv[1]}/${f}`, "utf8"));
      passed += r.numPassedTests; failed += r.numFailedTests + r.numRuntimeErrorTestSuites;
    }
    console.log(`tests: ${passed} passed, ${failed} failed`);
  ' "$RESULTS"
}

status=0
ensure_toolchain
phase "lint (biome)" pnpm -s lint
phase "typecheck + build (tsc -b)" pnpm -s typecheck
phase "unit tests" jest unit || status=1
phase "test services" prepare_services
phase "integration tests" jest integration || status=1
print_phase_summary
print_totals
exit $status
