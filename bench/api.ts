import { mkdir, writeFile } from 'node:fs/promises'
import { join, resolve } from 'node:path'
import { freePort, startLocalInfluxd, type LocalInfluxd } from '../src/devtools/local-influxd.js'
import { buildDemoRegistry } from '../src/registry/demo-registry.js'
import { mulberry32 } from '../src/simulator/prng.js'
import { benchTempDir, removeTempDir } from './lib/interrupt.js'
import { LoadGenerator, type LoadGateway } from './lib/load-generator.js'
import { lineMaterialHistory, lotId, type BenchLine } from './lib/material-history.js'
import { numberOption, parseOptions, UsageError, type OptionSpecs } from './lib/cli.js'
import { parseServiceEnv } from './lib/options.js'
import { localServiceEnv, ServiceProcess } from './lib/service-process.js'
import type { BenchResult } from './scenario.js'
import { summariseNewestProfile } from './lib/cpuprofile.js'

const STATES = ['running', 'running', 'running', 'idle', 'setup', 'planned_stop', 'unplanned_stop', 'fault'] as const
const REASONS: Record<string, string> = { planned_stop: 'break', unplanned_stop: 'no-material', fault: 'jam', setup: 'changeover', idle: 'waiting', running: '' }
/** The queries measured, in this order; `--queries` picks some. */
const QUERIES = ['currentState', 'machineTimeline', 'lineOee', 'lineOeeByShift', 'materialsTrace', 'spc'] as const
const progress = (line: string) => process.stderr.write(`[bench api] ${line}\n`)

/** Line protocol for one machine's history: production every minute, state changes every 5-35 min, an inspection every 10 min. */
function* machineHistory(tags: string, idealS: number, fromMs: number, toMs: number, rnd: () => number): Generator<string> {
  let state: string = 'running'
  let nextChange = fromMs
  let drift = 0
  for (let t = fromMs; t < toMs; t += 60_000) {
    while (nextChange <= t) {
      state = STATES[Math.floor(rnd() * STATES.length)]!
      const reason = REASONS[state]!
      yield `state,${tags} state="${state}"${reason ? `,reason="${reason}"` : ''},since_ms=${nextChange}i,seq=0i ${nextChange}`
      nextChange += (5 + Math.floor(rnd() * 30)) * 60_000
    }
    const good = state === 'running' ? Math.floor((60 / idealS) * (0.85 + rnd() * 0.1)) : 0
    const reject = good > 0 && rnd() < 0.3 ? 1 : 0
    yield `production,${tags} good=${good}i,reject=${reject}i,total=${good + reject}i,seq=0i ${t}`
    if ((t / 60_000) % 10 === 0) {
      drift += (rnd() - 0.45) * 0.002
      yield `quality,characteristic=bore.diameter,${tags} value=${(25 + drift + (rnd() - 0.5) * 0.01).toFixed(5)},lsl=24.95,usl=25.05,target=25,seq=0i ${t}`
    }
  }
}

async function seed(influxUrl: string, db: string, histories: Iterable<Iterable<string>>): Promise<number> {
  await fetch(`${influxUrl}/query`, { method: 'POST', body: new URLSearchParams({ q: `CREATE DATABASE "${db}"` }) })
  let points = 0
  let batch: string[] = []
  const inflight = new Set<Promise<void>>()
  const send = async (lines: string[]) => {
    const res = await fetch(`${influxUrl}/write?db=${db}&precision=ms`, { method: 'POST', body: lines.join('\n') })
    if (res.status !== 204) throw new Error(`seed write failed: ${res.status} ${await res.text()}`)
  }
  let lastReport = Date.now()
  for (const history of histories) {
    for (const line of history) {
      batch.push(line)
      if (batch.length === 5000) {
        const p = send(batch).finally(() => inflight.delete(p))
        inflight.add(p)
        points += batch.length
        batch = []
        if (inflight.size >= 2) await Promise.race(inflight)
        if (Date.now() - lastReport > 2000) {
          lastReport = Date.now()
          progress(`seeded ${(points / 1e6).toFixed(2)} M points`)
        }
      }
    }
  }
  if (batch.length > 0) await send(batch)
  await Promise.all(inflight)
  return points + batch.length
}

async function measure(name: string, makeUrl: () => string, apiKey: string, seconds: number, concurrency: number) {
  const latencies: number[] = []
  let errors = 0
  const end = performance.now() + seconds * 1000
  const started = performance.now()
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (performance.now() < end) {
        const t0 = performance.now()
        const res = await fetch(makeUrl(), { headers: { authorization: `Bearer ${apiKey}` } })
        await res.arrayBuffer()
        if (res.status !== 200) errors++
        latencies.push(performance.now() - t0)
      }
    }),
  )
  const elapsed = (performance.now() - started) / 1000
  latencies.sort((a, b) => a - b)
  const pct = (p: number) => Math.round(latencies[Math.min(latencies.length - 1, Math.floor(p * latencies.length))]! * 10) / 10
  const r = { p50: pct(0.5), p90: pct(0.9), p99: pct(0.99), max: Math.round(latencies[latencies.length - 1]! * 10) / 10, rps: Math.round((latencies.length / elapsed) * 10) / 10, requests: latencies.length, errors }
  progress(`${name}: p50 ${r.p50} ms, p90 ${r.p90} ms, p99 ${r.p99} ms, max ${r.max} ms, ${r.rps} req/s, errors ${errors}`)
  return r
}

export const API_HELP = `history: --factories N (default 20) --lines N (per factory, default 5) --machines N (per line, default 10)
         --days N (of production history, default 7; 0: none) --material-days N (of material movements, default 30)
queries: --queries ${QUERIES.join(',')} (default: all) --seconds S (each, default 10) --concurrency N (default 4)
load:    --ingest-rate N (msg/s of MQTT ingest meanwhile, default 1000; 0: none)
service: --service-env NAME=VALUE[,NAME=VALUE] (repeatable) --cpu-prof DIR`
export const API_OPTIONS: OptionSpecs = {
  factories: { type: 'string' },
  lines: { type: 'string' },
  machines: { type: 'string' },
  days: { type: 'string' },
  'material-days': { type: 'string' },
  seconds: { type: 'string' },
  concurrency: { type: 'string' },
  'ingest-rate': { type: 'string' },
  queries: { type: 'string' },
  'service-env': { type: 'string', multiple: true },
  'cpu-prof': { type: 'string' },
}

/**
 * The plant engineer's queries against a realistic history: seeds 1,000
 * machines x 7 days (production every minute, state changes, inspections:
 * about 11.6 M points) straight into InfluxDB, starts the service (which
 * seeds its live table from it), keeps an MQTT ingest load running, and
 * measures latency and throughput of each query with concurrent clients.
 * `materialsTrace` is a depth-5 backward lot trace over a month of material
 * movements of the same machines (bench/lib/material-history.ts).
 */
export async function run(argv: readonly string[]): Promise<BenchResult> {
  const values = parseOptions(argv, API_OPTIONS)
  const shape = { zones: 1, factoriesPerZone: numberOption(values, 'factories', 20, 1, 200), linesPerFactory: numberOption(values, 'lines', 5, 1, 50), machinesPerLine: numberOption(values, 'machines', 10, 1, 100) }
  const days = numberOption(values, 'days', 7, 0, 30)
  const materialDays = numberOption(values, 'material-days', 30, 1, 31)
  const seconds = numberOption(values, 'seconds', 10, 1, 120)
  const concurrency = numberOption(values, 'concurrency', 4, 1, 64)
  const ingestRate = numberOption(values, 'ingest-rate', 1000, 0, 1_000_000)
  const queries = ((values.queries as string | undefined) ?? QUERIES.join(',')).split(',').map((q) => q.trim())
  const unknown = queries.filter((q) => !(QUERIES as readonly string[]).includes(q))
  if (unknown.length > 0) throw new UsageError(`--queries: unknown ${unknown.join(', ')} (known: ${QUERIES.join(', ')})`)
  const serviceEnv = parseServiceEnv(values['service-env'] as string[] | undefined)
  const cpuProf = values['cpu-prof'] as string | undefined
  const dir = benchTempDir('iiot-bench-api-')
  let influxd: LocalInfluxd
  try {
    influxd = await startLocalInfluxd({ dataDir: join(dir, 'influxdb') })
  } catch (err) {
    await removeTempDir(dir)
    throw err
  }
  let service: ServiceProcess | undefined
  let gen: LoadGenerator | undefined
  const started = Date.now()
  const profDir = cpuProf && resolve(cpuProf)
  if (profDir) await mkdir(profDir, { recursive: true })
  let out: BenchResult
  try {
    const { doc, credentials, apiKey } = await buildDemoRegistry(shape, '')
    await writeFile(join(dir, 'registry.json'), JSON.stringify(doc))
    const machines = credentials.gateways.flatMap((g) => g.lines.flatMap((l) => l.machines.map((m) => ({ zone: g.zone, factory: g.factory, line: l.id, machine: m.id, idealS: m.idealCycleTimeS, tags: `factory=${g.factory},line=${l.id},machine=${m.id},zone=${g.zone}` }))))
    const now = Date.now()
    progress(`seeding ${machines.length} machines x ${days} days`)
    const t0 = performance.now()
    const rnd = mulberry32(42)
    const lines = new Map<string, BenchLine & { machines: string[] }>()
    for (const m of machines) {
      const key = `${m.factory}/${m.line}`
      const l = lines.get(key) ?? { tags: m.tags.replace(/,machine=[^,]*/, ',machine=_'), line: m.line, machines: [] }
      l.machines.push(m.machine)
      lines.set(key, l)
    }
    const materialFrom = Math.floor((now - materialDays * 86_400_000) / 3_600_000) * 3_600_000
    const points = await seed(influxd.url, 'bench', [
      ...machines.map((m) => machineHistory(m.tags, m.idealS, now - days * 86_400_000, now - 60_000, rnd)),
      ...[...lines.values()].map((l) => lineMaterialHistory(l, materialFrom, materialDays - 1)),
    ])
    progress(`seeded ${points} points in ${((performance.now() - t0) / 1000).toFixed(0)} s`)

    const [mqttPort, httpPort] = [await freePort(), await freePort()]
    const httpUrl = `http://127.0.0.1:${httpPort}`
    service = new ServiceProcess({ ...localServiceEnv({ dataDir: join(dir, 'service'), registryFile: join(dir, 'registry.json'), influxUrl: influxd.url, database: 'bench', mqttPort, httpPort }), API_RATE_LIMIT_PER_MIN: '1000000', MACHINE_OFFLINE_AFTER_S: String(86_400), ...serviceEnv }, httpUrl, profDir ? ['--cpu-prof', `--cpu-prof-dir=${profDir}`] : [])
    await service.start(120_000)

    if (ingestRate > 0) {
      const gateways: LoadGateway[] = credentials.gateways.map((g) => ({ id: g.id, secret: g.secret, zone: g.zone, factory: g.factory, machines: g.lines.flatMap((l) => l.machines.map((m) => ({ line: l.id, machine: m.id }))) }))
      gen = new LoadGenerator({ url: `mqtt://127.0.0.1:${mqttPort}`, gateways, messagesPerSecond: ingestRate, samplesPerMessage: 10, qos: 1 })
      await gen.connect()
      gen.start()
    }
    let i = 0
    const pick = () => machines[(i = (i * 7 + 13) % machines.length)]!
    const dayAgo = () => new Date(Date.now() - 86_400_000).toISOString()
    const traced = [...lines.values()]
    let j = 0
    // A finished lot (the line's last machine) from the second half of the month, traced 5 levels back.
    const traceUrl = () => {
      const l = traced[(j = (j * 7 + 3) % traced.length)]!
      const k = Math.floor(((materialDays - 1) * 3) / 2) + (j % 20)
      // In its factory, as a plant engineer's key (scoped to one factory) asks it (docs/materials.md, "why traces stay fast").
      const factory = l.tags.split(',')[0]!.slice('factory='.length)
      return `${httpUrl}/api/v1/materials/lots/${lotId(l, l.machines.length - 1, k)}/trace?factory=${factory}&direction=back&depth=5&start=${new Date(materialFrom - 3_600_000).toISOString()}`
    }
    // Traces are measured once the movement index holds the month (docs/materials.md), as they would be a while after a restart; how long that took is reported.
    // Every query waits for it, not only traces: its load takes the service's CPU for tens of seconds, so
    // `--queries currentState,lineOee` would otherwise measure the start-up, not what `api` measures after it.
    const indexStart = performance.now()
    let indexLoadedMs: number | null = null
    let oeeIndexLoadedMs: number | null = null
    let rssAfterLoadMb: number | null = null
    while (performance.now() - indexStart < 300_000) {
      const metrics = await (await fetch(`${httpUrl}/metrics`)).text()
      // A gauge the service does not have (an index turned off) is not waited for.
      const waiting = (name: string) => new RegExp(`^${name} 0$`, 'm').test(metrics)
      if (indexLoadedMs === null && !waiting('iiot_material_index_loaded')) {
        indexLoadedMs = Math.round(performance.now() - indexStart)
        progress(`movement index loaded (${/^iiot_material_index_movements (\d+)/m.exec(metrics)?.[1]} movements) ${indexLoadedMs} ms after the service was ready`)
      }
      if (oeeIndexLoadedMs === null && !waiting('iiot_oee_index_loaded')) {
        oeeIndexLoadedMs = Math.round(performance.now() - indexStart)
        progress(`OEE index loaded (${/^iiot_oee_index_states (\d+)/m.exec(metrics)?.[1]} states) ${oeeIndexLoadedMs} ms after the service was ready`)
      }
      if (indexLoadedMs !== null && oeeIndexLoadedMs !== null) {
        rssAfterLoadMb = Math.round(Number(/^iiot_process_resident_memory_bytes (\S+)/m.exec(metrics)?.[1] ?? Number.NaN) / 1e6)
        break
      }
      await new Promise((r) => setTimeout(r, 250))
    }
    // The trace must find what was seeded, or its latency means nothing.
    const probe = await fetch(traceUrl(), { headers: { authorization: `Bearer ${apiKey}` } })
    const probed = (await probe.json()) as { found?: boolean; lots?: number }
    if (probe.status !== 200 || !probed.found || (probed.lots ?? 0) < 6) throw new Error(`materialsTrace probe: status ${probe.status}, found ${probed.found}, lots ${probed.lots}`)
    progress(`materialsTrace probe: ${probed.lots} lots in the tree`)
    const result: BenchResult = {
      scenario: 'api',
      points,
      machines: machines.length,
      ingestMessagesPerSec: ingestRate,
      concurrency,
      materialIndexLoadedMs: indexLoadedMs,
      oeeIndexLoadedMs,
      rssAfterLoadMb,
    }
    const urls: Record<(typeof QUERIES)[number], () => string> = {
      currentState: () => `${httpUrl}/api/v1/equipment/state`,
      machineTimeline: () => { const m = pick(); return `${httpUrl}/api/v1/equipment/timeline?factory=${m.factory}&line=${m.line}&machine=${m.machine}&start=${dayAgo()}` },
      lineOee: () => { const m = pick(); return `${httpUrl}/api/v1/production/oee?factory=${m.factory}&line=${m.line}&start=${dayAgo()}` },
      lineOeeByShift: () => { const m = pick(); return `${httpUrl}/api/v1/production/oee?factory=${m.factory}&line=${m.line}&start=${dayAgo()}&by=shift` },
      materialsTrace: traceUrl,
      spc: () => { const m = pick(); return `${httpUrl}/api/v1/quality/spc?factory=${m.factory}&line=${m.line}&machine=${m.machine}&characteristic=bore.diameter&start=${dayAgo()}` },
    }
    for (const q of QUERIES) if (queries.includes(q)) result[q] = await measure(q, urls[q], apiKey, seconds, concurrency)
    if (gen) result.ingestAcked = gen.stats().acked
    out = result
  } finally {
    await gen?.stop(5000)
    await gen?.disconnect().catch(() => undefined)
    await service?.stop()
    await influxd.stop()
    await removeTempDir(dir)
  }
  // The service writes its profile as it exits.
  if (profDir) out.profile = (await summariseNewestProfile(profDir, started, ServiceProcess.projectRoot())) ?? null
  return out
}
