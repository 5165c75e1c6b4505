// First, as in the service: the generator's mqtt.js clients and their mqtt-packet parsers log through
// `debug`, whose calls cost even when disabled (3 % of the generator's busy time at 9,200 msg/s).
import '../src/broker/quiet-debug.js'
import { installInterruptHandlers } from './lib/interrupt.js'
import { COMMON_HELP } from './lib/options.js'
import type { BenchResult, Scenario } from './scenario.js'

/**
 * `npm run bench -- <scenario> [--json] [--assert-zero-loss] [options]`.
 * Progress goes to stderr; the last stdout line is one JSON object with the
 * figures (with --json, the only stdout line). --assert-zero-loss exits 3
 * unless the summary's `lost` is 0 (the CI smoke run).
 */
const scenarios: Record<string, () => Promise<Scenario>> = {
  ingest: async () => ({ name: 'ingest', description: 'the highest rate sustained with zero loss (stepped search), with latency, CPU, memory and the raw/broker ceilings', run: (await import('./ingest.js')).runIngest }),
  latency: async () => ({ name: 'latency', description: 'acknowledgement and publish-to-queryable latency at half the maximum rate (or --rate)', run: (await import('./ingest.js')).runLatency }),
  storm: async () => ({ name: 'storm', description: 'thousands of gateways connecting, held, and reconnecting en masse', run: (await import('./storm.js')).runStorm }),
  flood: async () => ({ name: 'flood', description: 'a QoS 0 flood: memory must stay bounded and the service ready', run: (await import('./flood.js')).runFlood }),
  decode: async () => ({ name: 'decode', description: 'protobuf decode: reflection vs static code, and the zod step', run: (await import('./decode.js')).run }),
  outage: async () => ({ name: 'outage', description: 'InfluxDB stopped in the middle of a QoS 1 load; counts lost acknowledged messages', run: async (argv) => (await import('./fault.js')).runFault('outage', argv) }),
  durability: async () => ({ name: 'durability', description: 'throughput and acknowledgement latency with the journal against the same load acknowledged from memory', run: (await import('./durability.js')).run }),
  api: async () => ({ name: 'api', description: 'latency and throughput of the plant engineer\'s queries over a seeded week of 1,000 machines, under ingest load', run: (await import('./api.js')).run }),
  scaleout: async () => ({ name: 'scaleout', description: 'worker mode behind Mosquitto: throughput and acknowledgement latency for --workers 1,2,3 against Mosquitto\'s own ceiling', run: (await import('./scaleout.js')).run }),
  crash: async () => ({ name: 'crash', description: 'the service killed with SIGKILL in the middle of a QoS 1 load', run: async (argv) => (await import('./fault.js')).runFault('crash', argv) }),
}

/** A few lines for people (non --json mode), before the JSON line. */
function humanSummary(r: BenchResult): string {
  const keys = ['messagesPerSec', 'pointsPerSec', 'lost', 'ackP50Ms', 'ackP99Ms', 'ackP999Ms', 'queryableP50Ms', 'queryableP99Ms', 'cpuSecondsPerMillionPoints', 'peakRssMb', 'gateways', 'ratioToRaw', 'ratioToBroker']
  const lines = keys.filter((k) => k in r).map((k) => `  ${k.padEnd(28)} ${String(r[k])}`)
  const c = r.ceilings as { raw?: { pointsPerSec?: unknown }; broker?: { messagesPerSec?: unknown } } | undefined
  if (c) lines.push(`  ${'ceiling raw points/s'.padEnd(28)} ${String(c.raw?.pointsPerSec)}`, `  ${'ceiling broker msg/s'.padEnd(28)} ${String(c.broker?.messagesPerSec)}`)
  return lines.length > 0 ? `${r.scenario}:\n${lines.join('\n')}\n` : ''
}

async function main(argv: string[]): Promise<number> {
  const json = argv.includes('--json')
  const assertZeroLoss = argv.includes('--assert-zero-loss')
  const [name, ...rest] = argv.filter((a) => a !== '--json' && a !== '--assert-zero-loss')
  const load = name ? scenarios[name] : undefined
  if (!load || rest.includes('--help')) {
    const list = await Promise.all(Object.entries(scenarios).map(async ([n, s]) => `  ${n.padEnd(11)} ${(await s()).description}`))
    process.stderr.write(`usage: npm run bench -- <scenario> [--json] [--assert-zero-loss] [options]\nscenarios:\n${list.join('\n')}\noptions of ingest, latency, storm and flood (see bench/README.md):\n${COMMON_HELP}\n`)
    return load ? 0 : 2
  }
  const scenario = await load()
  const result = await scenario.run(rest)
  if (interrupt.by) return 0
  if (typeof result.lost === 'number' && result.lost > 0) process.stderr.write(`[bench] LOST ${result.lost} messages (acknowledged, or for QoS 0 written and not counted as dropped): must be 0\n`)
  if (!json) process.stdout.write(humanSummary(result))
  process.stdout.write(JSON.stringify(result) + '\n')
  if (assertZeroLoss && result.lost !== 0) {
    process.stderr.write(`[bench] --assert-zero-loss: lost is ${JSON.stringify(result.lost)}, not 0\n`)
    return 3
  }
  return 0
}

// SIGINT, SIGTERM, SIGHUP: stop what the run started, remove its temp dirs, exit 130 / 143 / 129 (lib/interrupt.ts).
const interrupt = installInterruptHandlers()
main(process.argv.slice(2)).then(
  (code) => {
    if (!interrupt.by) process.exit(code)
  },
  (err: unknown) => {
    // Interrupted: the scenario's errors are the interrupt's doing, and the interrupt exits.
    if (interrupt.by) return
    process.stderr.write(`bench failed: ${err instanceof Error ? err.stack : String(err)}\n`)
    process.exit(1)
  },
)
