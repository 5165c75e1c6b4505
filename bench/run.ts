// First, as in the service: the generator's mqtt.js clients and their mqtt-packet parsers log through
// `debug`, whose calls cost even when disabled (3 % of the generator's busy time at 9,200 msg/s).
import '../src/broker/quiet-debug.js'
import { closest, parseOptions, UsageError } from './lib/cli.js'
import { installInterruptHandlers } from './lib/interrupt.js'
import type { BenchResult, Scenario } from './scenario.js'

/**
 * `npm run bench -- <scenario> [--json] [--assert-zero-loss] [options]`.
 * Progress goes to stderr; the last stdout line is one JSON object with the
 * figures (with --json, the only stdout line). --assert-zero-loss exits 3
 * unless the summary's `lost` is 0 (the CI smoke run). A mistake in the
 * arguments is one line on stderr and exit 2, before anything starts.
 */
const scenarios: Record<string, { description: string; load: () => Promise<Scenario> }> = {
  ingest: { description: 'the highest rate sustained with zero loss (stepped search), with latency, CPU, memory and the raw/broker ceilings', load: async () => { const m = await import('./ingest.js'); return { options: m.INGEST_OPTIONS, help: m.INGEST_HELP, run: m.runIngest } } },
  latency: { description: 'acknowledgement and publish-to-queryable latency at half the maximum rate (or --rate)', load: async () => { const m = await import('./ingest.js'); return { options: m.LATENCY_OPTIONS, help: m.LATENCY_HELP, run: m.runLatency } } },
  storm: { description: 'thousands of gateways connecting, held, and reconnecting en masse', load: async () => { const m = await import('./storm.js'); return { options: m.STORM_OPTIONS, help: m.STORM_HELP, run: m.runStorm } } },
  flood: { description: 'a QoS 0 flood: memory must stay bounded and the service ready', load: async () => { const m = await import('./flood.js'); return { options: m.FLOOD_OPTIONS, help: m.FLOOD_HELP, run: m.runFlood } } },
  decode: { description: 'protobuf decode: reflection vs static code, and the zod step', load: async () => { const m = await import('./decode.js'); return { options: m.DECODE_OPTIONS, help: m.DECODE_HELP, run: m.run } } },
  outage: { description: 'InfluxDB stopped in the middle of a QoS 1 load; counts lost acknowledged messages', load: async () => fault('outage') },
  durability: { description: 'throughput and acknowledgement latency with the journal against the same load acknowledged from memory', load: async () => { const m = await import('./durability.js'); return { options: m.DURABILITY_OPTIONS, help: m.DURABILITY_HELP, run: m.run } } },
  api: { description: 'latency and throughput of the plant engineer\'s queries over a seeded week of 1,000 machines, under ingest load', load: async () => { const m = await import('./api.js'); return { options: m.API_OPTIONS, help: m.API_HELP, run: m.run } } },
  scaleout: { description: 'worker mode behind Mosquitto: throughput and acknowledgement latency for --workers 1,2,3 against Mosquitto\'s own ceiling', load: async () => { const m = await import('./scaleout.js'); return { options: m.SCALEOUT_OPTIONS, help: m.SCALEOUT_HELP, run: m.run } } },
  crash: { description: 'the service killed with SIGKILL in the middle of a QoS 1 load', load: async () => fault('crash') },
}

async function fault(kind: 'outage' | 'crash'): Promise<Scenario> {
  const [args, m] = await Promise.all([import('./lib/args.js'), import('./fault.js')])
  return { options: args.FAULT_OPTIONS, help: args.FAULT_HELP, run: (argv) => m.runFault(kind, argv) }
}

const USAGE = 'usage: npm run bench -- <scenario> [--json] [--assert-zero-loss] [options]'
const GLOBAL_HELP = `${USAGE}
scenarios:
${Object.entries(scenarios).map(([n, s]) => `  ${n.padEnd(11)} ${s.description}`).join('\n')}
every scenario: --json (the summary's JSON line alone on stdout) --assert-zero-loss (exit 3 unless lost is 0)
npm run bench -- <scenario> --help lists its options; bench/README.md explains them and the figures
`

/** A few lines for people (non --json mode), before the JSON line. */
function humanSummary(r: BenchResult): string {
  const keys = ['messagesPerSec', 'pointsPerSec', 'lost', 'ackP50Ms', 'ackP99Ms', 'ackP999Ms', 'queryableP50Ms', 'queryableP99Ms', 'cpuSecondsPerMillionPoints', 'peakRssMb', 'gateways', 'ratioToRaw', 'ratioToBroker']
  const lines = keys.filter((k) => k in r).map((k) => `  ${k.padEnd(28)} ${String(r[k])}`)
  const c = r.ceilings as { raw?: { pointsPerSec?: unknown }; broker?: { messagesPerSec?: unknown } } | undefined
  if (c) lines.push(`  ${'ceiling raw points/s'.padEnd(28)} ${String(c.raw?.pointsPerSec)}`, `  ${'ceiling broker msg/s'.padEnd(28)} ${String(c.broker?.messagesPerSec)}`)
  return lines.length > 0 ? `${r.scenario}:\n${lines.join('\n')}\n` : ''
}

/** What a usage error points at: the scenario's usage once it is known, else the bench's. */
let usagePointer = `${USAGE}; npm run bench -- --help lists the scenarios`

async function main(argv: string[]): Promise<number> {
  const json = argv.includes('--json')
  const assertZeroLoss = argv.includes('--assert-zero-loss')
  const [name, ...rest] = argv.filter((a) => a !== '--json' && a !== '--assert-zero-loss')
  const names = Object.keys(scenarios)
  if (name === '--help' || name === '-h' || name === 'help') {
    process.stdout.write(GLOBAL_HELP)
    return 0
  }
  if (name === undefined) throw new UsageError(`no scenario given; one of: ${names.join(', ')}`)
  if (name.startsWith('-')) throw new UsageError(`the scenario comes first (one of: ${names.join(', ')}), then its options; got ${name}`)
  const entry = Object.hasOwn(scenarios, name) ? scenarios[name] : undefined
  if (!entry) {
    const near = closest(name, names)
    throw new UsageError(`unknown scenario "${name}"${near ? ` (did you mean ${near}?)` : ''}; one of: ${names.join(', ')}`)
  }
  usagePointer = `usage: npm run bench -- ${name} [--json] [--assert-zero-loss] [options]; --help lists them`
  const scenario = await entry.load()
  if (rest.includes('--help') || rest.includes('-h')) {
    process.stdout.write(`usage: npm run bench -- ${name} [--json] [--assert-zero-loss] [options]\n${name}: ${entry.description}\n${scenario.help}\n`)
    return 0
  }
  // Every option checked against the scenario's before it starts anything (it checks their values itself).
  parseOptions(rest, scenario.options)
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
    if (err instanceof UsageError) {
      // A mistake in the arguments: what was wrong and where the usage is, no stack trace.
      process.stderr.write(`bench: ${err.message}\n${usagePointer}\n`)
      process.exit(2)
    }
    process.stderr.write(`bench failed: ${err instanceof Error ? err.stack : String(err)}\n`)
    process.exit(1)
  },
)
