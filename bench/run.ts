import type { Scenario } from './scenario.js'

/**
 * `npm run bench -- <scenario> [--json] [options]`. Progress goes to stderr;
 * the last stdout line is one JSON object with the figures (with --json, the
 * only stdout line).
 */
const scenarios: Record<string, () => Promise<Scenario>> = {
  decode: async () => ({ name: 'decode', description: 'protobuf decode: reflection vs static code, and the zod step', run: (await import('./decode.js')).run }),
  outage: async () => ({ name: 'outage', description: 'InfluxDB stopped in the middle of a QoS 1 load; counts lost acknowledged messages', run: async (argv) => (await import('./fault.js')).runFault('outage', argv) }),
  durability: async () => ({ name: 'durability', description: 'throughput and acknowledgement latency with the journal against the same load acknowledged from memory', run: (await import('./durability.js')).run }),
  api: async () => ({ name: 'api', description: 'latency and throughput of the plant engineer\'s queries over a seeded week of 1,000 machines, under ingest load', run: (await import('./api.js')).run }),
  crash: async () => ({ name: 'crash', description: 'the service killed with SIGKILL in the middle of a QoS 1 load', run: async (argv) => (await import('./fault.js')).runFault('crash', argv) }),
}

async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv.filter((a) => a !== '--json')
  const load = name ? scenarios[name] : undefined
  if (!load) {
    process.stderr.write(`usage: npm run bench -- <scenario> [--json]\nscenarios:\n${Object.keys(scenarios).map((s) => `  ${s}`).join('\n')}\n`)
    return 2
  }
  const scenario = await load()
  const result = await scenario.run(rest)
  if (typeof result.lost === 'number' && result.lost > 0) process.stderr.write(`[bench] LOST ${result.lost} acknowledged messages\n`)
  process.stdout.write(JSON.stringify(result) + '\n')
  return 0
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err: unknown) => {
    process.stderr.write(`bench failed: ${err instanceof Error ? err.stack : String(err)}\n`)
    process.exit(1)
  },
)
