#!/usr/bin/env bash
# Starts iiot-ingest with a local InfluxDB and a simulated factory feeding it, installing what is
# missing. Ctrl-C stops everything. Set INFLUX_URL (and INFLUX_* as in the README) to use an
# existing InfluxDB instead of the managed local one.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
. scripts/lib.sh

ensure_node
[ -n "${INFLUX_URL:-}" ] || ensure_influxd
ensure_npm_deps
ensure_build
mkdir -p data

pids=()
cleanup() {
  trap - EXIT INT TERM
  log "stopping"
  for ((i=${#pids[@]}-1; i>=0; i--)); do kill -TERM "${pids[i]}" 2>/dev/null || true; wait "${pids[i]}" 2>/dev/null || true; done
}
trap cleanup EXIT INT TERM

if [ -z "${INFLUX_URL:-}" ]; then
  log "starting a local InfluxDB (data in ./data/influxdb)"
  node dist/src/devtools/run-local-influxd.js --data ./data/influxdb > data/influxd.url &
  pids+=($!)
  for _ in $(seq 1 100); do grep -q '^INFLUX_URL=' data/influxd.url 2>/dev/null && break; sleep 0.2; done
  INFLUX_URL=$(sed -n 's/^INFLUX_URL=//p' data/influxd.url)
  [ -n "$INFLUX_URL" ] || { log "InfluxDB did not start"; exit 1; }
  export INFLUX_URL
fi

export REGISTRY_FILE="${REGISTRY_FILE:-./data/registry.json}"
if [ ! -f "$REGISTRY_FILE" ]; then
  log "creating a demo registry (1 zone, 2 factories, 2 lines each, 4 machines per line)"
  node dist/src/cli/registry-cli.js demo --file "$REGISTRY_FILE" --credentials ./data/simulator.json \
    --mqtt-url "mqtt://127.0.0.1:${MQTT_PORT:-1883}"
fi

log "starting iiot-ingest"
# Two glibc malloc arenas instead of one per thread: a smaller RSS for the same work (README, "Memory").
MALLOC_ARENA_MAX="${MALLOC_ARENA_MAX:-2}" node dist/src/main.js &
pids+=($!)
api="http://127.0.0.1:${HTTP_PORT:-8080}"
ready() { node -e 'fetch(process.argv[1]).then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))' "$api/readyz"; }
for _ in $(seq 1 100); do ready && break; sleep 0.2; done
ready || { log "the service did not become ready"; exit 1; }

key=$(cat data/demo-api-key 2>/dev/null || echo '<your API key>')
cat >&2 <<MSG

  iiot-ingest is running.
    API        $api/api/v1   (OpenAPI: $api/docs)
    MQTT       mqtt://127.0.0.1:${MQTT_PORT:-1883}  ws://127.0.0.1:${MQTT_WS_PORT:-8083}
    InfluxDB   $INFLUX_URL
    API key    $key
  Try:
    curl -H "Authorization: Bearer $key" "$api/api/v1/telemetry/latest?factory=z1-f1&line=line-1&machine=m-1"
    curl -H "Authorization: Bearer $key" "$api/api/v1/ingest/stats"

  The simulator runs below; Ctrl-C stops everything.

MSG
node dist/src/simulator/simulate.js --credentials ./data/simulator.json ${SIMULATE_ARGS:-} &
pids+=($!)
wait "${pids[-1]}"
