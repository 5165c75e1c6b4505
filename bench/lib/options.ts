import { numberOption, parseOptions, UsageError, type OptionSpecs, type OptionValues } from './cli.js'
import { parseMix, type Mix } from './payloads.js'

/** Options every load scenario takes (ingest, latency, storm, flood). Every number is bounded, so a run always ends. */
export interface BenchOptions {
  readonly gateways: number
  readonly machines: number
  readonly samples: number
  /** Offered messages/s over all gateways; 0 = closed loop (`window` unacknowledged per gateway). */
  readonly rate: number
  readonly qos: 0 | 1
  readonly durationS: number
  readonly rampUpS: number
  readonly seed: number
  readonly mix: Mix
  readonly mixText: string
  readonly window: number
  /** Skip the ceilings (CI smoke). */
  readonly quick: boolean
  readonly ceilingS: number
  readonly hashN: number | undefined
  /** Write a V8 CPU profile of the service into this directory and summarise it. */
  readonly cpuProf: string | undefined
  /** Extra node options for the service the bench starts (--node-arg, repeatable), e.g. --trace-gc. */
  readonly nodeArgs: readonly string[]
  readonly target: string | undefined
  readonly mqtt: string | undefined
  readonly apiKey: string | undefined
  readonly credentials: string | undefined
  readonly servicePid: number | undefined
  /** Environment overrides for the service the bench starts (--service-env K=V, repeatable). */
  readonly serviceEnv: Record<string, string>
  readonly extra: Record<string, string | boolean | undefined>
}

export type Defaults = Partial<Omit<BenchOptions, 'mix' | 'extra'>> & { mix?: string }

export const COMMON_HELP = `load:    --gateways N --machines N (per gateway) --samples N (per telemetry message) --rate N (msg/s, 0 = closed loop)
         --qos 0|1 --duration S --ramp-up S --window N (unacknowledged per gateway) --mix telemetry|plant|kind=w,... --seed N
ceiling: --quick (skip the ceilings) --ceiling-seconds S
target:  (default: a throwaway influxd + service) --target http://host:port --mqtt mqtt://host:port --api-key KEY
         --credentials FILE [--service-pid PID], with INFLUX_URL (and INFLUX_DATABASE, INFLUX_USERNAME/PASSWORD) in the environment
service: --service-env NAME=VALUE[,NAME=VALUE] (repeatable; overrides the scenario's service settings)
other:   --hash-n N (scrypt cost of the bench registry) --cpu-prof DIR (profile the service; top functions in the summary)
         --node-arg=--OPTION (repeatable; a node option for the service the bench starts, e.g. --node-arg=--trace-gc)`

/** The options every load scenario takes (parseBenchOptions adds the scenario's own). */
export const BENCH_OPTIONS: OptionSpecs = {
  gateways: { type: 'string' },
  machines: { type: 'string' },
  samples: { type: 'string' },
  rate: { type: 'string' },
  qos: { type: 'string' },
  duration: { type: 'string' },
  'ramp-up': { type: 'string' },
  seed: { type: 'string' },
  mix: { type: 'string' },
  window: { type: 'string' },
  quick: { type: 'boolean' },
  'ceiling-seconds': { type: 'string' },
  'hash-n': { type: 'string' },
  'cpu-prof': { type: 'string' },
  'node-arg': { type: 'string', multiple: true },
  target: { type: 'string' },
  mqtt: { type: 'string' },
  'api-key': { type: 'string' },
  credentials: { type: 'string' },
  'service-pid': { type: 'string' },
  'service-env': { type: 'string', multiple: true },
}

export function parseBenchOptions(argv: readonly string[], defaults: Defaults, extra: OptionSpecs = {}): BenchOptions {
  const values = parseOptions(argv, { ...BENCH_OPTIONS, ...extra })
  checkTarget(values)
  const serviceEnv = parseServiceEnv(values['service-env'] as string[] | undefined)
  const num = (name: string, d: number | undefined, min: number, max: number): number => {
    if (values[name] === undefined && d === undefined) throw new UsageError(`--${name} is required`)
    return numberOption(values, name, d ?? 0, min, max)
  }
  const optNum = (name: string, d: number | undefined, min: number, max: number) => (values[name] === undefined && d === undefined ? undefined : num(name, d, min, max))
  const qos = num('qos', defaults.qos ?? 1, 0, 1)
  if (qos !== 0 && qos !== 1) throw new UsageError('--qos must be 0 or 1')
  const hashN = optNum('hash-n', defaults.hashN, 2, 1 << 20)
  if (hashN !== undefined && (hashN & (hashN - 1)) !== 0) throw new UsageError('--hash-n must be a power of two')
  const mixText = (values.mix as string | undefined) ?? defaults.mix ?? 'telemetry'
  let mix: Mix
  try {
    mix = parseMix(mixText)
  } catch (err) {
    throw new UsageError((err as Error).message)
  }
  const str = (name: string) => values[name] as string | undefined
  const extraValues: Record<string, string | boolean | undefined> = {}
  for (const k of Object.keys(extra)) extraValues[k] = values[k] as string | boolean | undefined
  return {
    gateways: num('gateways', defaults.gateways ?? 20, 1, 5000),
    machines: num('machines', defaults.machines ?? 5, 1, 100),
    samples: num('samples', defaults.samples ?? 10, 1, 10_000),
    rate: num('rate', defaults.rate ?? 0, 0, 1_000_000),
    qos,
    durationS: num('duration', defaults.durationS ?? 60, 5, 3600),
    rampUpS: num('ramp-up', defaults.rampUpS ?? 0, 0, 600),
    seed: num('seed', defaults.seed ?? 1, 0, 2 ** 32 - 1),
    mix,
    mixText,
    window: num('window', defaults.window ?? 100, 1, 10_000),
    quick: (values.quick as boolean | undefined) ?? defaults.quick ?? false,
    ceilingS: num('ceiling-seconds', defaults.ceilingS ?? 5, 1, 60),
    hashN,
    cpuProf: str('cpu-prof'),
    nodeArgs: nodeArgs((values['node-arg'] as string[] | undefined) ?? []),
    target: str('target'),
    mqtt: str('mqtt'),
    apiKey: str('api-key'),
    credentials: str('credentials'),
    servicePid: optNum('service-pid', undefined, 1, 2 ** 22),
    serviceEnv,
    extra: extraValues,
  }
}

/** Options only a service the bench starts uses, and options only an existing deployment (--target) does. */
const LOCAL_ONLY = ['node-arg', 'cpu-prof', 'service-env', 'hash-n']
const TARGET_ONLY = ['mqtt', 'api-key', 'credentials', 'service-pid']

/**
 * `--target` drives an existing deployment: checked before anything starts, so a typo never gets
 * as far as "starting against ...". What it needs is there and well formed; options that only a
 * service the bench starts would use are refused with it, and its own options without it.
 */
function checkTarget(values: OptionValues): void {
  const target = values.target as string | undefined
  if (target === undefined) {
    const stray = TARGET_ONLY.find((k) => values[k] !== undefined)
    if (stray) throw new UsageError(`--${stray} applies only with --target (an existing deployment)`)
    return
  }
  const local = LOCAL_ONLY.find((k) => values[k] !== undefined)
  if (local) throw new UsageError(`--${local} applies only to a service the bench starts, not with --target`)
  url('--target', target, ['http:', 'https:'], 'the API base URL of the deployment, e.g. http://host:8080')
  const mqtt = values.mqtt as string | undefined
  if (mqtt === undefined) throw new UsageError('--target needs --mqtt mqtt://host:port (its MQTT listener)')
  url('--mqtt', mqtt, ['mqtt:', 'mqtts:', 'tcp:', 'tls:', 'ws:', 'wss:'], 'the MQTT URL of the deployment, e.g. mqtt://host:1883')
  if (values['api-key'] === undefined && !process.env.BENCH_API_KEY) throw new UsageError('--target needs --api-key KEY (or BENCH_API_KEY; scope "all")')
  if (values.credentials === undefined) throw new UsageError('--target needs --credentials FILE (gateway secrets, as written by `npm run registry -- demo --credentials FILE`)')
  const influx = process.env.INFLUX_URL
  if (!influx) throw new UsageError('--target needs INFLUX_URL in the environment (its InfluxDB, e.g. http://127.0.0.1:8086)')
  url('INFLUX_URL', influx, ['http:', 'https:'], 'its InfluxDB, e.g. http://127.0.0.1:8086')
}

function url(what: string, text: string, protocols: readonly string[], meaning: string): void {
  let u: URL | undefined
  try {
    u = new URL(text)
  } catch {
    u = undefined
  }
  if (!u || !protocols.includes(u.protocol) || u.hostname === '') throw new UsageError(`${what} must be ${meaning}; got "${text}"`)
}

/** A bounded number from a scenario's own option. */
export function extraNum(o: BenchOptions, name: string, d: number, min: number, max: number): number {
  return numberOption(o.extra, name, d, min, max)
}

function nodeArgs(args: readonly string[]): string[] {
  for (const a of args) if (!/^--[a-z][a-z0-9-]*(=\S+)?$/.test(a)) throw new UsageError(`--node-arg takes one node option such as --node-arg=--trace-gc, got "${a}"`)
  return [...args]
}

/** `--service-env NAME=VALUE[,NAME=VALUE]` (repeatable) as an environment. */
export function parseServiceEnv(list: readonly string[] | undefined): Record<string, string> {
  const env: Record<string, string> = {}
  for (const kv of list ?? []) {
    for (const part of kv.split(',')) {
      const eq = part.indexOf('=')
      if (eq <= 0 || !/^[A-Z][A-Z0-9_]*$/.test(part.slice(0, eq))) throw new UsageError(`--service-env takes NAME=VALUE[,NAME=VALUE], got "${part}"`)
      env[part.slice(0, eq)] = part.slice(eq + 1)
    }
  }
  return env
}
