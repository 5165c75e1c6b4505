# Shared by scripts/quickstart.sh and scripts/test.sh: install what is missing, idempotently.
# shellcheck shell=bash

log() { printf '\033[1m==> %s\033[0m\n' "$*" >&2; }

as_root() {
  if [ "$(id -u)" -eq 0 ]; then "$@"
  elif command -v sudo >/dev/null 2>&1; then sudo "$@"
  else log "need root to run: $*  (install sudo or run as root)"; return 1
  fi
}

APT_UPDATED=0
apt_install() {
  command -v apt-get >/dev/null 2>&1 || { log "apt-get not found: install $* with your package manager"; return 1; }
  if [ "$APT_UPDATED" = 0 ]; then as_root apt-get update -qq; APT_UPDATED=1; fi
  DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}

ensure_node() {
  command -v node >/dev/null 2>&1 || { log "Node.js 20 or later is required (https://nodejs.org or your distribution's nodejs package)"; exit 1; }
  local major
  major=$(node -p 'process.versions.node.split(".")[0]')
  if [ "$major" -lt 20 ]; then log "Node.js $(node --version) is too old: 20 or later is required"; exit 1; fi
}

ensure_influxd() {
  if command -v influxd >/dev/null 2>&1 || [ -n "${INFLUXD_BIN:-}" ]; then return 0; fi
  log "installing Debian's influxdb package (InfluxDB 1.x) system-wide with apt-get (needs root or sudo): the demo and the tests start throwaway influxd processes from it. The Quick start needs none when INFLUX_URL names an InfluxDB you already run (README, \"Quick start\")"
  apt_install influxdb
  # Debian's package may start a system service on machines with systemd; we run our own
  # throwaway instances on other ports, so it does not matter either way.
}

# The console's browser tests drive Debian's chromium headless (test/helpers/browser.ts).
ensure_chromium() {
  if [ -x /usr/lib/chromium/chromium ] || command -v chromium >/dev/null 2>&1 || [ -n "${CHROMIUM_BIN:-}" ]; then return 0; fi
  log "installing Debian's chromium package with apt-get (needs root or sudo): the console's tests drive it headless"
  apt_install chromium
}

# Worker mode's tests use Debian's mosquitto as the real external broker (docs/scaling-out.md).
ensure_mosquitto() {
  if command -v mosquitto >/dev/null 2>&1 || [ -x /usr/sbin/mosquitto ] || [ -n "${MOSQUITTO_BIN:-}" ]; then return 0; fi
  log "installing Debian's mosquitto package with apt-get (needs root or sudo): worker mode's tests run it as the external broker"
  apt_install mosquitto
  # The tests start their own mosquitto processes on free ports. Debian's package may also start a
  # system service on 1883, the embedded broker's default port (Quick start): stop and disable it.
  if command -v systemctl >/dev/null 2>&1; then as_root systemctl disable --now mosquitto >/dev/null 2>&1 || true; fi
}

ensure_npm_deps() {
  local stamp=node_modules/.package-lock.json
  if [ ! -f "$stamp" ] || [ package-lock.json -nt "$stamp" ]; then
    log "installing npm dependencies (npm ci)"
    npm ci --no-audit --no-fund --loglevel=error
  fi
}

# Builds unless dist/ is newer than everything it is built from (a second Quick start then starts
# in seconds, not after a rebuild).
ensure_build() {
  local stamp=dist/.build-stamp
  if [ -f "$stamp" ] && [ -z "$(find src web proto bench scripts/build-console.js package.json package-lock.json tsconfig.json tsconfig.build.json -newer "$stamp" -print -quit 2>/dev/null)" ]; then
    return
  fi
  log "building (tsc)"
  npm run --silent build
  touch "$stamp"
}

# The demo prints an all-scope API key: it listens on loopback unless DEMO_BIND says otherwise
# (README, "Quick start"). MQTT_HOST and HTTP_HOST set by the user win (docs/configuration.md).
demo_bind() {
  local bind="${DEMO_BIND:-127.0.0.1}"
  export MQTT_HOST="${MQTT_HOST:-$bind}" HTTP_HOST="${HTTP_HOST:-$bind}"
}

# The address to reach a listener bound to $1 from this machine: loopback for a wildcard bind.
local_addr() {
  case "$1" in
    0.0.0.0 | :: | '[::]') echo 127.0.0.1 ;;
    *:*) echo "[$1]" ;;
    *) echo "$1" ;;
  esac
}
