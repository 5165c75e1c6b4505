#!/usr/bin/env bash
# The whole test suite on a fresh Debian/Ubuntu machine with Node 20+, installing what is missing:
# npm dependencies, InfluxDB (Debian's influxdb 1.x, for real throwaway instances), chromium (console tests) and mosquitto (worker mode's tests).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
. scripts/lib.sh

ensure_node
ensure_influxd
ensure_chromium
ensure_mosquitto
ensure_npm_deps
log "lint (eslint, tsc, dependency rules)"
npm run --silent lint
ensure_build
log "tests (vitest)"
report=$(mktemp)
trap 'rm -f "$report"' EXIT
status=0
npx vitest run --reporter=default --reporter=json --outputFile.json="$report" || status=$?
# The bench's processes carry a mark in their environment, so one it leaves running is found (vitest does the same for the tests).
mark="bench-$$-$RANDOM$RANDOM"
log "bench smoke: ingest, 20 s (asserts zero loss, not speed)" && IIOT_TEST_RUN_MARK="$mark" node dist/bench/run.js ingest --duration 20 --quick --json --assert-zero-loss || { [ "$status" -ne 0 ] || status=1; }
sleep 1
for f in /proc/[0-9]*/environ; do
  if tr '\0' '\n' 2>/dev/null < "$f" | grep -qx "IIOT_TEST_RUN_MARK=$mark"; then
    pid=${f#/proc/}; pid=${pid%/environ}
    grep -q ') Z ' "/proc/$pid/stat" 2>/dev/null && continue
    log "the bench left process $pid running: $(tr '\0' ' ' < "/proc/$pid/cmdline" 2>/dev/null); killing it"
    kill -KILL "$pid" 2>/dev/null || true
    status=1
  fi
done
# One plain closing line, whatever reads this output: "N passed, N failed, N skipped".
node -e 'const r = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8")); console.log(`${r.numPassedTests} passed, ${r.numFailedTests} failed, ${r.numPendingTests + r.numTodoTests} skipped`)' "$report" || true
exit "$status"
