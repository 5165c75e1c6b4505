#!/usr/bin/env bash
# The whole test suite on a fresh Debian/Ubuntu machine with Node 20+, installing what is missing:
# npm dependencies and InfluxDB (Debian's influxdb 1.x, for real throwaway instances).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
. scripts/lib.sh

ensure_node
ensure_influxd
ensure_npm_deps
log "lint (eslint, tsc, dependency rules)"
npm run --silent lint
ensure_build
log "tests (vitest)"
npx vitest run
