import { parseArgs } from 'node:util'
import { messageTypes } from '../pipeline/proto-schema.js'
import { loadCredentials, planFleet } from './credentials.js'
import { startSimulation } from './runner.js'
import { createStats, formatStats } from './stats.js'

const USAGE = `Usage: simulate [options]

Publishes simulated factory data over MQTT with each gateway's credentials.

  --credentials <file>  simulator file from the registry CLI (default ./data/simulator.json)
  --url <url>           broker URL, overrides mqttUrl from the file
  --rate <n>            telemetry messages per second per machine (default 1)
  --samples <n>         samples per telemetry message (default 10)
  --duration <s>        stop after this many seconds; 0 = until SIGINT/SIGTERM (default 0)
  --seed <int>          random seed; the same seed repeats the same run (default 1)
  --qos <0|1>           MQTT QoS of every publish (default 1)
  --protocol <p>        iiot (iiot/v1 protobuf), sparkplug (each gateway a Sparkplug B edge
                        node, docs/sparkplug.md) or mixed (every second gateway) (default iiot)
  --max-machines <n>    simulate only the first n machines of the file
  --quiet               no progress lines on stderr
  -h, --help            this text

Progress goes to stderr every 5 s; on exit one JSON summary line goes to stdout.
Acked counts PUBACKs at QoS 1 and completed socket writes at QoS 0. While a
gateway is offline its telemetry is skipped (counted), other kinds are queued.`

interface Args {
  credentials: string
  url: string | undefined
  rate: number
  samples: number
  durationS: number
  seed: number
  qos: 0 | 1
  protocol: 'iiot' | 'sparkplug' | 'mixed'
  maxMachines: number
  quiet: boolean
}

class UsageError extends Error {}

function numberArg(name: string, raw: string | undefined, fallback: number, check: (n: number) => boolean, what: string): number {
  if (raw === undefined) return fallback
  const n = Number(raw)
  if (raw.trim() === '' || !Number.isFinite(n) || !check(n)) throw new UsageError(`--${name} must be ${what}, got "${raw}"`)
  return n
}

function protocolArg(raw: string): Args['protocol'] {
  if (raw === 'iiot' || raw === 'sparkplug' || raw === 'mixed') return raw
  throw new UsageError(`--protocol must be iiot, sparkplug or mixed, got "${raw}"`)
}

function parseCli(argv: string[]): Args | 'help' {
  const { values } = parseArgs({
    args: argv,
    strict: true,
    options: {
      credentials: { type: 'string', default: './data/simulator.json' },
      url: { type: 'string' },
      rate: { type: 'string' },
      samples: { type: 'string' },
      duration: { type: 'string' },
      seed: { type: 'string' },
      qos: { type: 'string' },
      protocol: { type: 'string', default: 'iiot' },
      'max-machines': { type: 'string' },
      quiet: { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
  })
  if (values.help) return 'help'
  return {
    credentials: values.credentials,
    url: values.url,
    rate: numberArg('rate', values.rate, 1, (n) => n > 0 && n <= 10_000, 'a number in (0, 10000]'),
    samples: numberArg('samples', values.samples, 10, (n) => Number.isInteger(n) && n >= 1 && n <= 10_000, 'an integer from 1 to 10000'),
    durationS: numberArg('duration', values.duration, 0, (n) => n >= 0, 'a number of seconds >= 0'),
    seed: numberArg('seed', values.seed, 1, (n) => Number.isInteger(n), 'an integer'),
    qos: numberArg('qos', values.qos, 1, (n) => n === 0 || n === 1, '0 or 1') as 0 | 1,
    protocol: protocolArg(values.protocol),
    maxMachines: numberArg('max-machines', values['max-machines'], Number.POSITIVE_INFINITY, (n) => Number.isInteger(n) && n >= 1, 'a positive integer'),
    quiet: values.quiet,
  }
}

const log = (line: string) => process.stderr.write(`[simulate] ${line}\n`)

async function main(argv: string[]): Promise<{ code: number; summary?: string }> {
  let args: Args | 'help'
  try {
    args = parseCli(argv)
  } catch (err) {
    // parseArgs throws TypeErrors for unknown or malformed options.
    log(`${(err as Error).message}\n\n${USAGE}`)
    return { code: 2 }
  }
  if (args === 'help') {
    process.stdout.write(USAGE + '\n')
    return { code: 0 }
  }

  const credentials = await loadCredentials(args.credentials)
  const plan = planFleet(credentials, args.maxMachines)
  const machineCount = plan.reduce((n, g) => n + g.machines.length, 0)
  const url = args.url ?? credentials.mqttUrl
  if (!/^(mqtts?|wss?|tcp|ssl):\/\/[^/]/.test(url)) throw new Error(`broker URL "${url}" must look like mqtt://host:port`)
  if (machineCount === 0) log('warning: the credentials file lists no machines; only connectivity is published')
  log(`${plan.length} gateway(s), ${machineCount} machine(s) -> ${url}, ~${Math.round(args.rate * machineCount)} telemetry msg/s, ${args.protocol}, qos ${args.qos}, seed ${args.seed}`)

  const stats = createStats()
  const startMs = Date.now()
  const sim = startSimulation({ plan, url, qos: args.qos, protocol: args.protocol, rate: args.rate, samples: args.samples, seed: args.seed, types: messageTypes(), stats, log })

  let prev = { published: 0, atMs: startMs }
  const progress = args.quiet
    ? undefined
    : setInterval(() => {
        const now = Date.now()
        log(formatStats(stats, prev, now, sim.connectedGateways(), plan.length))
        prev = { published: stats.published, atMs: now }
      }, 5_000)

  await new Promise<void>((resolve) => {
    const done = (why: string) => {
      log(`stopping (${why})`)
      resolve()
    }
    if (args.durationS > 0) setTimeout(() => done(`${args.durationS} s elapsed`), args.durationS * 1000)
    process.once('SIGINT', () => done('SIGINT'))
    process.once('SIGTERM', () => done('SIGTERM'))
  })
  // A second signal while draining means "now".
  const force = () => {
    log('second signal: exiting without waiting for acks')
    process.exit(130)
  }
  process.once('SIGINT', force)
  process.once('SIGTERM', force)

  if (progress) clearInterval(progress)
  await sim.stop()
  const durationS = Math.round((Date.now() - startMs) / 100) / 10
  // Unconfirmed: still queued or awaiting an ack when the connections closed (e.g. the broker was unreachable).
  const unconfirmed = stats.published - stats.acked - stats.errors
  const summary = { published: stats.published, acked: stats.acked, errors: stats.errors, unconfirmed, skipped: stats.skipped, byKind: stats.byKind, gateways: plan.length, machines: machineCount, durationS }
  return { code: 0, summary: JSON.stringify(summary) }
}

process.on('unhandledRejection', (reason) => log(`unexpected: ${(reason as Error)?.stack ?? String(reason)}`))

void main(process.argv.slice(2))
  .catch((err: unknown) => {
    log((err as Error).message)
    return { code: 1, summary: undefined }
  })
  .then(({ code, summary }) => {
    // Exit explicitly once stdout is flushed: a half-closed socket must not keep the process alive.
    if (summary === undefined) process.exit(code)
    process.stdout.write(summary + '\n', () => process.exit(code))
  })
