#!/usr/bin/env bash
# Starts iiot-ingest with a local InfluxDB and a simulated factory feeding it, installing what is
# missing. Ctrl-C stops everything. Set INFLUX_URL (and INFLUX_* as in the README) to use an
# existing InfluxDB instead of the managed local one. MQTT, WebSocket and the API listen on
# 127.0.0.1 only: set DEMO_BIND=0.0.0.0 to expose them (or MQTT_HOST / HTTP_HOST one by one).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
. scripts/lib.sh
demo_bind

ensure_node
[ -n "${INFLUX_URL:-}" ] || ensure_influxd
ensure_npm_deps
ensure_build
mkdir -p data
# One service per data directory (docs/operations.md): a second Quick start from this clone would
# share the first one's journal and InfluxDB files.
holder=$(node -e 'try { console.log(JSON.parse(require("fs").readFileSync(process.argv[1], "utf8")).pid) } catch {}' "${DATA_DIR:-./data}/service.lock")
if [ -n "$holder" ] && kill -0 "$holder" 2>/dev/null; then
  log "iiot-ingest is already running on ${DATA_DIR:-./data} (process $holder): stop it first (Ctrl-C in its terminal), or run this from another clone"
  exit 1
fi

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
  for _ in $(seq 1 100); do grep -q '^INFLUX_URL=' data/influxd.url 2>/dev/null && break; kill -0 "${pids[-1]}" 2>/dev/null || break; sleep 0.2; done
  INFLUX_URL=$(sed -n 's/^INFLUX_URL=//p' data/influxd.url)
  [ -n "$INFLUX_URL" ] || { log "InfluxDB did not start"; exit 1; }
  export INFLUX_URL
fi

mqtt_url="mqtt://$(local_addr "$MQTT_HOST"):${MQTT_PORT:-1883}"
export REGISTRY_FILE="${REGISTRY_FILE:-./data/registry.json}"
if [ ! -f "$REGISTRY_FILE" ]; then
  log "creating a demo registry (1 zone, 2 factories, 2 lines each, 4 machines per line)"
  node dist/src/cli/registry-cli.js demo --file "$REGISTRY_FILE" --credentials ./data/simulator.json \
    --mqtt-url "$mqtt_url"
fi

log "starting iiot-ingest (MQTT and WebSocket on $MQTT_HOST, API on $HTTP_HOST)"
# Two glibc malloc arenas instead of one per thread: a smaller RSS for the same work (README, "Memory").
MALLOC_ARENA_MAX="${MALLOC_ARENA_MAX:-2}" node dist/src/main.js &
pids+=($!)
api="http://$(local_addr "$HTTP_HOST"):${HTTP_PORT:-8080}"
ready() { node -e 'fetch(process.argv[1]).then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))' "$api/readyz"; }
for _ in $(seq 1 100); do ready && break; kill -0 "${pids[-1]}" 2>/dev/null || break; sleep 0.2; done
ready || { log "the service did not become ready"; exit 1; }

key=$(cat "$(dirname "$REGISTRY_FILE")/demo-api-key" 2>/dev/null || echo '<your API key>')
case "$MQTT_HOST $HTTP_HOST" in
  "127.0.0.1 127.0.0.1") reach="reachable from this machine only (DEMO_BIND=0.0.0.0 exposes it)" ;;
  *) reach="MQTT listens on $MQTT_HOST and the API on $HTTP_HOST: anyone who reaches them with the key below reads everything" ;;
esac
cat >&2 <<MSG

  iiot-ingest is running: $reach.
    Console    $api/console/   (paste the API key below; start with the floor board of z1-f1)
    API        $api/api/v1   (its operations: $api/docs)
    MQTT       $mqtt_url  ws://$(local_addr "$MQTT_HOST"):${MQTT_WS_PORT:-8083}
    InfluxDB   $INFLUX_URL
    API key    $key   (scope: all)
  Try:
    curl -H "Authorization: Bearer $key" "$api/api/v1/equipment/state?factory=z1-f1"
    curl -H "Authorization: Bearer $key" "$api/api/v1/production/oee?factory=z1-f1&line=line-1"
    curl -H "Authorization: Bearer $key" "$api/api/v1/ingest/stats"
    xdg-open $api/docs     # the OpenAPI explorer, or open that address in a browser

  The simulator runs below: z1-f1's gateway speaks iiot/v1, z1-f2's is a Sparkplug B edge node
  (SIMULATE_ARGS="--protocol iiot" for iiot/v1 only). Ctrl-C stops everything.

MSG
# Both protocols by default: z1-f1's gateway speaks iiot/v1, z1-f2's Sparkplug B (material movements as DataSets: docs/sparkplug.md).
node dist/src/simulator/simulate.js --credentials ./data/simulator.json --url "$mqtt_url" ${SIMULATE_ARGS:---protocol mixed} &
pids+=($!)
wait "${pids[-1]}"
