import type { Scenario } from './scenario.js'

/**
 * `npm run bench -- <scenario> [--json] [options]`. Progress goes to stderr;
 * the last stdout line is one JSON object with the figures (with --json, the
 * only stdout line).
 */
const scenarios: Record<string, () => Promise<Scenario>> = {
  decode: async () => ({ name: 'decode', description: 'protobuf decode: reflection vs static code, and the zod step', run: (await import('./decode.js')).run }),
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
