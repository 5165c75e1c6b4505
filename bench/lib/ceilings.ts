import { fork, type ChildProcess } from 'node:child_process'
import { extname } from 'node:path'
import { fileURLToPath } from 'node:url'
import type { GatewayTopic, Kind, MachineTopic } from '../../src/domain/topic.js'
import { LiveStateTable } from '../../src/domain/live-state.js'
import { CounterTracker } from '../../src/pipeline/counter-tracker.js'
import { toLines } from '../../src/pipeline/to-lines.js'
import { mulberry32 } from '../../src/simulator/prng.js'
import { progress, sleep } from './harness.js'
import { LoadGenerator, type LoadGateway } from './load-generator.js'
import { domainRecord, pickKind, type Mix } from './payloads.js'
import { cpuSeconds } from './proc.js'
import { influxQuery, influxWriteUrl } from './target.js'
import { round } from './window.js'

export interface RawCeiling {
  readonly pointsPerSec: number
  readonly batchLines: number
  readonly concurrency: number
  /** points/s at each concurrency tried */
  readonly byConcurrency: Record<string, number>
  readonly influxCpuSecondsPerMillionPoints: number | null
  readonly errors: number
}

export interface BrokerCeiling {
  readonly messagesPerSec: number
  readonly pointsPerSec: number
  /** CPU of the bare broker process per million messages */
  readonly cpuSecondsPerMillionMessages: number | null
}

export interface Ceilings {
  readonly raw: RawCeiling | null
  readonly broker: BrokerCeiling | null
}

export interface LoadShape {
  readonly gateways: readonly LoadGateway[]
  readonly samples: number
  readonly mix: Mix
  readonly seed: number
  readonly qos: 0 | 1
  readonly window: number
}

/**
 * The points the service would write for the load: the same gateways,
 * machines, kinds, values and timestamps scheme, mapped by the service's
 * own toLines. Endless; each call returns the next batch of about `lines` lines.
 */
class RawLineSource {
  private readonly rnd: () => number
  private readonly trackers: Parameters<typeof toLines>[2] = { counters: new CounterTracker(), live: new LiveStateTable() }
  private readonly slots: { topics: Record<Kind, MachineTopic | GatewayTopic>; next: Record<Kind, number> }[] = []
  private gwTurn = 0
  private readonly cursors: number[]
  private readonly firstSlot: number[] = []

  constructor(
    private readonly shape: LoadShape,
    private readonly base: number,
  ) {
    this.rnd = mulberry32(shape.seed)
    for (const gw of shape.gateways) {
      this.firstSlot.push(this.slots.length)
      for (const m of gw.machines) {
        const mt = (kind: Kind): MachineTopic => ({ scope: 'machine', zone: gw.zone, factory: gw.factory, line: m.line, machine: m.machine, kind: kind as MachineTopic['kind'] })
        this.slots.push({
          topics: { telemetry: mt('telemetry'), state: mt('state'), production: mt('production'), quality: mt('quality'), material: mt('material'), connectivity: { scope: 'gateway', zone: gw.zone, factory: gw.factory, gateway: gw.id, kind: 'connectivity' } },
          next: { telemetry: 0, state: 0, production: 0, quality: 0, material: 0, connectivity: 0 },
        })
      }
    }
    this.cursors = shape.gateways.map(() => 0)
  }

  batch(lines: number): { body: string; lines: number } {
    const out: string[] = []
    const gws = this.shape.gateways
    while (out.length < lines) {
      // Round robin over gateways, then over each gateway's machines, as the load generator does.
      const g = this.gwTurn
      this.gwTurn = (g + 1) % gws.length
      const machines = gws[g]!.machines.length
      const first = this.firstSlot[g]!
      const slot = this.slots[first + (this.cursors[g]!++ % machines)]!
      const kind = pickKind(this.shape.mix, this.shape.mix.length === 1 ? 0 : this.rnd())
      // Connectivity is per gateway: its index is kept on the gateway's first machine's slot.
      const owner = kind === 'connectivity' ? this.slots[first]! : slot
      const index = owner.next[kind]++
      for (const l of toLines(slot.topics[kind], domainRecord(kind, this.shape.samples, index, this.base + index, this.rnd), this.trackers)) out.push(l)
    }
    return { body: out.join('\n'), lines: out.length }
  }
}

/**
 * The database's ceiling: the load's points written straight to InfluxDB as
 * line protocol over HTTP (a scratch database, dropped afterwards), in
 * `batchLines`-line batches at each concurrency for `seconds` (or until the
 * level's prebuilt batches run out); the best wins.
 */
export async function rawCeiling(o: {
  influxUrl: string
  database: string
  shape: LoadShape
  seconds: number
  batchLines?: number
  concurrencies?: readonly number[]
  influxPid: () => number | undefined
}): Promise<RawCeiling> {
  const db = `${o.database}_raw_ceiling`
  const batchLines = o.batchLines ?? 5000
  await influxQuery(o.influxUrl, db, `CREATE DATABASE "${db}"`)
  const source = new RawLineSource(o.shape, Date.now() - 3_600_000)
  let errors = 0
  const write = async (body: string | Buffer): Promise<boolean> => {
    try {
      const res = await fetch(influxWriteUrl(o.influxUrl, db), { method: 'POST', body, signal: AbortSignal.timeout(30_000) })
      await res.arrayBuffer()
      if (res.status === 204) return true
    } catch {
      // counted below
    }
    errors++
    return false
  }
  try {
    // Warm-up: create every series once, so no level pays for the index alone.
    const seriesPoints = o.shape.gateways.reduce((a, g) => a + g.machines.length, 0) * (o.shape.samples + 4)
    const warmDeadline = Date.now() + 30_000
    for (let done = 0; done < seriesPoints && Date.now() < warmDeadline; ) {
      const b = source.batch(batchLines)
      await write(b.body)
      done += b.lines
    }
    const byConcurrency: Record<string, number> = {}
    let best = { pointsPerSec: 0, concurrency: 0, influxCpu: null as number | null }
    for (const c of o.concurrencies ?? [1, 2, 4]) {
      // The level's batches are built before it is timed, so the bench's own line building does not
      // take CPU from InfluxDB (up to 400,000 lines per second of the level, at most 800,000 lines).
      const pool: { body: Buffer; lines: number }[] = []
      const poolLines = Math.min(o.seconds * 400_000, 800_000)
      for (let n = 0; n < poolLines; ) {
        const b = source.batch(batchLines)
        pool.push({ body: Buffer.from(b.body), lines: b.lines })
        n += b.lines
      }
      let next = 0
      const cpu0 = cpuSeconds(o.influxPid())
      const t0 = performance.now()
      const deadline = t0 + o.seconds * 1000
      let points = 0
      await Promise.all(
        Array.from({ length: c }, async () => {
          while (performance.now() < deadline && next < pool.length) {
            const b = pool[next++]!
            if (await write(b.body)) points += b.lines
          }
        }),
      )
      const seconds = (performance.now() - t0) / 1000
      const cpu1 = cpuSeconds(o.influxPid())
      const rate = Math.round(points / seconds)
      byConcurrency[String(c)] = rate
      progress(`ceiling raw: ${batchLines}-line batches x ${c} concurrent: ${rate} points/s`)
      if (rate > best.pointsPerSec) best = { pointsPerSec: rate, concurrency: c, influxCpu: cpu0 !== undefined && cpu1 !== undefined && points > 0 ? round(((cpu1 - cpu0) / points) * 1e6, 3) : null }
    }
    return { pointsPerSec: best.pointsPerSec, batchLines, concurrency: best.concurrency, byConcurrency, influxCpuSecondsPerMillionPoints: best.influxCpu, errors }
  } finally {
    await influxQuery(o.influxUrl, db, `DROP DATABASE "${db}"`).catch(() => undefined)
  }
}

/** Starts the bare counting broker (bare-broker.ts) as its own process. */
async function startBareBroker(): Promise<{ child: ChildProcess; port: number; count(): Promise<number>; stop(): Promise<void> }> {
  const here = fileURLToPath(import.meta.url)
  const child = fork(fileURLToPath(new URL(`./bare-broker${extname(here)}`, import.meta.url)), [], { stdio: ['ignore', 'ignore', 'inherit', 'ipc'] })
  const port = await new Promise<number>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('bare broker did not start within 15 s')), 15_000)
    child.once('exit', (code) => reject(new Error(`bare broker exited with ${code}`)))
    child.on('message', (m: { type?: string; port?: number }) => {
      if (m.type === 'ready') {
        clearTimeout(timer)
        resolve(m.port!)
      }
    })
  })
  return {
    child,
    port,
    count: () =>
      new Promise<number>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error('bare broker did not answer')), 10_000)
        const onMessage = (m: { type?: string; count?: number }) => {
          if (m.type !== 'count') return
          clearTimeout(timer)
          child.off('message', onMessage)
          resolve(m.count!)
        }
        child.on('message', onMessage)
        child.send({ type: 'count' })
      }),
    stop: async () => {
      if (child.exitCode !== null || child.signalCode !== null) return
      const exited = new Promise<void>((r) => child.once('exit', () => r()))
      child.send({ type: 'stop' })
      const timer = setTimeout(() => child.kill('SIGKILL'), 5000)
      await exited
      clearTimeout(timer)
    },
  }
}

/**
 * The protocol ceiling: the same MQTT load (gateways, QoS, payloads, window),
 * closed loop, into a bare Aedes that only counts, for `seconds` after a 1 s warm-up.
 */
export async function brokerCeiling(o: { shape: LoadShape; seconds: number }): Promise<BrokerCeiling> {
  const broker = await startBareBroker()
  const gen = new LoadGenerator({
    url: `mqtt://127.0.0.1:${broker.port}`,
    gateways: o.shape.gateways,
    messagesPerSecond: 0,
    samplesPerMessage: o.shape.samples,
    qos: o.shape.qos,
    maxInflight: o.shape.window,
    mix: o.shape.mix,
    seed: o.shape.seed,
    clientIdSuffix: '-ceiling',
  })
  try {
    await gen.connect({ timeoutMs: 120_000 })
    gen.start()
    await sleep(1000)
    const c0 = await broker.count()
    const p0 = gen.stats()
    const cpu0 = cpuSeconds(broker.child.pid)
    const t0 = performance.now()
    await sleep(o.seconds * 1000)
    const c1 = await broker.count()
    const p1 = gen.stats()
    const cpu1 = cpuSeconds(broker.child.pid)
    const seconds = (performance.now() - t0) / 1000
    const messages = c1 - c0
    const pointsPerMessage = p1.acked > p0.acked ? (p1.ackedPoints - p0.ackedPoints) / (p1.acked - p0.acked) : o.shape.samples
    const result = {
      messagesPerSec: Math.round(messages / seconds),
      pointsPerSec: Math.round((messages * pointsPerMessage) / seconds),
      cpuSecondsPerMillionMessages: cpu0 !== undefined && cpu1 !== undefined && messages > 0 ? round(((cpu1 - cpu0) / messages) * 1e6, 3) : null,
    }
    progress(`ceiling broker: ${result.messagesPerSec} msg/s (QoS ${o.shape.qos}, ${o.shape.gateways.length} gateways, closed loop, window ${o.shape.window})`)
    return result
  } finally {
    await gen.stop(5000)
    await gen.disconnect()
    await broker.stop()
  }
}

/** Both ceilings (raw first, then broker), unless `quick`. */
export async function measureCeilings(o: {
  quick: boolean
  influxUrl: string
  database: string
  shape: LoadShape
  seconds: number
  influxPid: () => number | undefined
}): Promise<Ceilings> {
  if (o.quick) return { raw: null, broker: null }
  const raw = await rawCeiling({ influxUrl: o.influxUrl, database: o.database, shape: o.shape, seconds: o.seconds, influxPid: o.influxPid })
  const broker = await brokerCeiling({ shape: o.shape, seconds: o.seconds })
  // Let InfluxDB settle (cache snapshot, compaction and deletion of the dropped database) before
  // the measured run: a fixed 2 s left it compacting into the service's run, which then paid for it.
  await untilQuiet(o.influxPid)
  return { raw, broker }
}

/** Waits until the process uses under 5% of a core over one second (at least 2 s, at most 60 s). */
export async function untilQuiet(pid: () => number | undefined, maxMs = 60_000): Promise<void> {
  const started = Date.now()
  await sleep(2000)
  let last = cpuSeconds(pid())
  if (last === undefined) return // an external InfluxDB: nothing to watch
  while (Date.now() - started < maxMs) {
    await sleep(1000)
    const now = cpuSeconds(pid())
    if (now === undefined) return
    if (now - last < 0.05) return
    last = now
  }
  progress(`influxd still busy after ${Math.round((Date.now() - started) / 1000)} s; measuring anyway`)
}
