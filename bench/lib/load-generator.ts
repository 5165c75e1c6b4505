import type { EventEmitter } from 'node:events'
import { connect, type MqttClient } from 'mqtt'
import { KINDS, type Kind } from '../../src/domain/topic.js'
import { messageTypes } from '../../src/pipeline/proto-schema.js'
import { mulberry32 } from '../../src/simulator/prng.js'
import { parseMix, pickKind, pointsPerMessage, protoBody, sampleValue, type Mix } from './payloads.js'
import { IndexSet } from './index-set.js'
import { SparkplugLoad } from './sparkplug-load.js'
import { telemetryBytes } from './telemetry-bytes.js'

export interface LoadGateway {
  readonly id: string
  readonly secret: string
  readonly zone: string
  readonly factory: string
  readonly machines: readonly { readonly line: string; readonly machine: string }[]
}

export interface LoadOptions {
  readonly url: string
  readonly gateways: readonly LoadGateway[]
  /** Total publish rate over all gateways; 0 = as fast as acknowledgements allow (closed loop, `maxInflight` per gateway). */
  readonly messagesPerSecond: number
  /** Samples per telemetry message (other kinds carry one item). */
  readonly samplesPerMessage: number
  readonly qos: 0 | 1
  /** Unacknowledged messages per gateway before it waits (MQTT inflight window); for QoS 0, messages waiting for the socket to drain. */
  readonly maxInflight?: number
  /** Sample timestamps start here and advance 1 ms per message per machine and kind, so every point is distinct. */
  readonly baseTsMs?: number
  /** Kinds and weights (see payloads.ts); default telemetry only. */
  readonly mix?: Mix | string
  /** The rate (or, closed loop, the window) grows linearly from 0 over this many seconds after start(). */
  readonly rampUpS?: number
  /** Seed of the random stream (kind choice and values): the same seed gives the same messages. */
  readonly seed?: number
  /** Connections opened at once by connect(); default all. */
  readonly connectConcurrency?: number
  readonly reconnectPeriodMs?: number
  readonly clientIdSuffix?: string
  /** iiot/v1 protobuf (default), or Sparkplug B edge nodes (telemetry only; sparkplug-load.ts). */
  readonly protocol?: 'iiot' | 'sparkplug'
}

/** One series of message identities: a machine (or, for connectivity, a gateway) and a kind. */
interface Series {
  readonly key: string
  readonly topic: string
  next: number
  readonly acked: IndexSet
}

interface Conn {
  readonly gw: LoadGateway
  client: MqttClient | undefined
  inflight: number
  cursor: number
  /** CONNACKs received on this connection, over its whole life: a reconnection is a new one. */
  connects: number
  /** Per machine, per kind. */
  readonly machines: Record<Kind, Series>[]
}

const MAX_PER_TICK = 2000
/** A paced load is sent in a burst every this many ms (spread over 1 ms ticks it cost the service 40-60 % more CPU per point and the generator 25 %: bench/README.md). */
const TICK_MS = 5

/**
 * Real mqtt.js gateways publishing with persistent sessions (clean: false):
 * on a reconnect, mqtt.js resends what the broker had not acknowledged.
 * Every message is identifiable in InfluxDB (its items at base + index ms;
 * for telemetry, signal `s0`), so loss and duplication can be counted exactly.
 * Open loop at `messagesPerSecond` (paced from the clock, so slow timers do not
 * lower the rate), or closed loop with `maxInflight` per gateway.
 */
export class LoadGenerator {
  readonly base: number
  readonly mix: Mix
  private readonly conns: Conn[]
  private readonly acked = new Map<string, IndexSet>()
  private readonly ackLatenciesMs: number[] = []
  /** How late each paced tick ran after its timer was due (ms): the generator's own event-loop delay, which every acknowledgement it times also waits out. */
  private readonly tickLateMs: number[] = []
  /** When the pending paced tick is due (performance.now()); 0 when none is. */
  private dueAt = 0
  private readonly types = messageTypes()
  private readonly rnd: () => number
  private rate: number
  private running = false
  private paused = false
  private startedAt = 0
  private lastTick = 0
  private carry = 0
  private turn = 0
  private sent = 0
  private ackedCount = 0
  private ackedPoints = 0
  private errors = 0
  private refused = 0
  private inflight = 0
  private timer: NodeJS.Timeout | NodeJS.Immediate | undefined
  private readonly sp: SparkplugLoad | undefined
  /** One telemetry message's sample values, reused. */
  private readonly values: Float64Array

  constructor(private readonly opts: LoadOptions) {
    this.base = opts.baseTsMs ?? Date.now() - 60_000
    this.mix = typeof opts.mix === 'string' ? parseMix(opts.mix) : (opts.mix ?? [{ kind: 'telemetry', weight: 1 }])
    this.rate = opts.messagesPerSecond
    this.rnd = mulberry32(opts.seed ?? 1)
    this.sp = opts.protocol === 'sparkplug' ? new SparkplugLoad(opts.samplesPerMessage) : undefined
    this.values = new Float64Array(opts.samplesPerMessage)
    if (this.sp && this.mix.some((m) => m.kind !== 'telemetry')) throw new Error('--protocol sparkplug: the mix must be telemetry only')
    this.conns = opts.gateways.map((gw) => {
      const gatewaySeries = this.series('connectivity', `${gw.zone}/${gw.factory}/_gateway/${gw.id}`, `iiot/v1/${gw.zone}/${gw.factory}/_gateway/${gw.id}/connectivity`)
      const machines = gw.machines.map((m) => {
        const path = `${gw.zone}/${gw.factory}/${m.line}/${m.machine}`
        const byKind = {} as Record<Kind, Series>
        for (const kind of KINDS) byKind[kind] = kind === 'connectivity' ? gatewaySeries : this.series(kind, path, this.sp && kind === 'telemetry' ? this.sp.topic(gw, m) : `iiot/v1/${path}/${kind}`)
        return byKind
      })
      return { gw, client: undefined, inflight: 0, cursor: 0, connects: 0, machines }
    })
  }

  private series(kind: Kind, path: string, topic: string): Series {
    // Telemetry keys are the bare machine path (as before the mix existed); other kinds are prefixed.
    const key = kind === 'telemetry' ? path : `${kind}:${path}`
    const acked = new IndexSet()
    this.acked.set(key, acked)
    return { key, topic, next: 0, acked }
  }

  /**
   * Opens every gateway's connection (up to `connectConcurrency` at a time) and
   * waits until all are connected or `timeoutMs` passes. Throws when some are
   * not connected and `requireAll` (default) is set.
   */
  async connect(opts: { timeoutMs?: number; requireAll?: boolean } = {}): Promise<{ connected: number; seconds: number }> {
    const started = performance.now()
    const deadline = Date.now() + (opts.timeoutMs ?? 60_000)
    const concurrency = Math.max(1, this.opts.connectConcurrency ?? this.conns.length)
    let pending = 0
    const slotFreed: (() => void)[] = []
    for (const c of this.conns) {
      while (pending >= concurrency && Date.now() < deadline) await new Promise<void>((r) => slotFreed.push(r))
      pending++
      let settled = false
      const settle = () => {
        if (settled) return
        settled = true
        pending--
        slotFreed.shift()?.()
      }
      const client = connect(this.opts.url, {
        clientId: `${c.gw.id}${this.opts.clientIdSuffix ?? '-load'}`,
        username: c.gw.id,
        password: c.gw.secret,
        clean: false,
        reconnectPeriod: this.opts.reconnectPeriodMs ?? 200,
        connectTimeout: 30_000,
        protocolVersion: 4,
        queueQoSZero: false,
        resubscribe: false,
      })
      client.on('connect', () => {
        c.connects++
        // QoS 0 publishes wait for 'drain' when the socket is full: one listener each.
        ;(client.stream as unknown as EventEmitter).setMaxListeners(0)
        this.sp?.births(client, c.gw, this.base)
        settle()
      })
      client.on('error', (err: Error & { code?: unknown }) => {
        if (typeof err.code === 'number') this.refused++
        else this.errors++
        settle()
      })
      setTimeout(settle, Math.max(0, deadline - Date.now())).unref()
      c.client = client
    }
    while (this.connectedCount() < this.conns.length && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20))
    const connected = this.connectedCount()
    if (connected < this.conns.length && opts.requireAll !== false) {
      throw new Error(`only ${connected} of ${this.conns.length} gateways connected to ${this.opts.url} (refused ${this.refused})`)
    }
    return { connected, seconds: (performance.now() - started) / 1000 }
  }

  connectedCount(): number {
    let n = 0
    for (const c of this.conns) if (c.client?.connected) n++
    return n
  }

  start(): void {
    if (this.running) return
    this.running = true
    this.startedAt = this.lastTick = performance.now()
    this.tick()
  }

  /** Changes the offered rate (messages/s over all gateways; 0 = closed loop). */
  setRate(messagesPerSecond: number): void {
    this.rate = messagesPerSecond
    this.carry = 0
    this.paused = false
  }

  /** Publishes nothing new until setRate(); what is in flight still completes. */
  pause(): void {
    this.paused = true
  }

  private rampFactor(now: number): number {
    const ramp = (this.opts.rampUpS ?? 0) * 1000
    return ramp > 0 ? Math.min(1, Math.max(0.01, (now - this.startedAt) / ramp)) : 1
  }

  private readonly tick = (): void => {
    this.timer = undefined
    if (!this.running) return
    const now = performance.now()
    if (this.dueAt > 0) this.tickLateMs.push(Math.max(0, now - this.dueAt))
    this.dueAt = 0
    const dt = Math.min(200, now - this.lastTick)
    this.lastTick = now
    const ramp = this.rampFactor(now)
    const closed = this.rate <= 0
    let budget: number
    if (this.paused) budget = 0
    else if (closed) budget = MAX_PER_TICK
    else {
      this.carry += (this.rate * ramp * dt) / 1000
      budget = Math.min(MAX_PER_TICK, Math.floor(this.carry))
    }
    const window = closed ? Math.max(1, Math.ceil((this.opts.maxInflight ?? 100) * ramp)) : (this.opts.maxInflight ?? 100)
    const n = this.conns.length
    let spent = 0
    let skipped = 0
    while (spent < budget && skipped < n) {
      const c = this.conns[this.turn]!
      this.turn = this.turn + 1 === n ? 0 : this.turn + 1
      if (c.inflight >= window || !c.client) {
        skipped++
        continue
      }
      skipped = 0
      this.publishOne(c)
      spent++
    }
    if (!closed) {
      // Bank at most 50 ms of unsent budget: a generator held back by full windows does not burst later.
      this.carry = Math.min(this.carry - spent, this.rate * 0.05 + 1)
    }
    if (closed && spent >= MAX_PER_TICK) this.timer = setImmediate(this.tick)
    else {
      const wait = closed ? 2 : TICK_MS
      if (!closed) this.dueAt = performance.now() + wait
      this.timer = setTimeout(this.tick, wait)
    }
  }

  private publishOne(c: Conn): void {
    const kind = this.mix.length === 1 ? this.mix[0]!.kind : pickKind(this.mix, this.rnd())
    const machine = c.machines[c.cursor++ % c.machines.length]!
    const s = machine[kind]
    const index = s.next++
    const payload = kind === 'telemetry' && !this.sp ? this.telemetry(index) : this.encoded(kind, c.client!, index)
    const publishedAt = performance.now()
    const qos = this.opts.qos
    this.sent++
    this.inflight++
    c.inflight++
    c.client!.publish(s.topic, payload, { qos }, (err) => {
      this.inflight--
      c.inflight--
      if (err) {
        this.errors++
        return
      }
      this.ackedCount++
      this.ackedPoints += pointsPerMessage(kind, this.opts.samplesPerMessage)
      if (qos === 1) this.ackLatenciesMs.push(performance.now() - publishedAt)
      s.acked.add(index)
    })
  }

  /** What protoBody('telemetry', …) encodes to, written directly (telemetry-bytes.ts): the same values from the same random stream. */
  private telemetry(index: number): Buffer {
    const values = this.values
    for (let k = 0; k < values.length; k++) values[k] = sampleValue(this.rnd)
    return telemetryBytes(index >>> 0, Date.now(), this.base + index, values)
  }

  /** Any other message, through protobufjs (or Sparkplug's encoding). */
  private encoded(kind: Kind, client: MqttClient, index: number): Buffer {
    const body = protoBody(kind, this.opts.samplesPerMessage, index, this.base + index, this.rnd)
    return this.sp ? this.sp.data(client, body) : (this.types[kind].encode(body).finish() as Buffer)
  }

  /**
   * A probe for publish-to-queryable latency: one telemetry sample on signal
   * `probe` of the first machine, outside the loss accounting, sent through
   * the first gateway's connection behind its load. Returns the topic's tags.
   */
  publishProbe(tsMs: number, done: (err?: Error) => void): { zone: string; factory: string; line: string; machine: string } | undefined {
    const c = this.conns[0]
    const m = c?.gw.machines[0]
    if (!c?.client || !m) return undefined
    const [topic, payload] = this.sp?.probe(c.client, c.gw, m, tsMs) ?? [`iiot/v1/${c.gw.zone}/${c.gw.factory}/${m.line}/${m.machine}/telemetry`, this.types.telemetry.encode({ seq: 0, sentTsMs: Date.now(), samples: [{ signal: 'probe', doubleValue: 1, tsMs }] }).finish() as Buffer]
    c.client.publish(topic, payload, { qos: this.opts.qos }, (err) => done(err ?? undefined))
    return { zone: c.gw.zone, factory: c.gw.factory, line: m.line, machine: m.machine }
  }

  /** A mark of every connection's CONNACK count, for `reconnectedSince`. */
  connectionMark(): readonly number[] {
    return this.conns.map((c) => c.connects)
  }

  /**
   * Connections that are connected now through a CONNACK received after `mark`.
   * `connectedCount()` alone would count a client whose socket was destroyed
   * but whose close has not been processed yet (mqtt.js still says connected).
   */
  reconnectedSince(mark: readonly number[]): number {
    let n = 0
    this.conns.forEach((c, i) => {
      if (c.client?.connected && c.connects > (mark[i] ?? 0)) n++
    })
    return n
  }

  /**
   * Closes every socket abruptly (as a network drop would) and resolves, with
   * how many were cut, once mqtt.js has seen each of them close (at most
   * `timeoutMs`); mqtt.js reconnects after its reconnect period.
   */
  async dropConnections(timeoutMs = 10_000): Promise<number> {
    const cut: MqttClient[] = []
    for (const c of this.conns) {
      if (c.client?.connected) {
        c.client.stream.destroy()
        cut.push(c.client)
      }
    }
    const deadline = Date.now() + timeoutMs
    while (cut.some((client) => client.connected) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 5))
    return cut.length
  }

  /** Stops generating; waits (bounded) for outstanding acknowledgements. */
  async stop(waitMs = 30_000): Promise<void> {
    this.running = false
    if (this.timer) {
      clearTimeout(this.timer as NodeJS.Timeout)
      clearImmediate(this.timer as NodeJS.Immediate)
    }
    const deadline = Date.now() + waitMs
    while (this.inflight > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50))
  }

  async disconnect(): Promise<void> {
    const ends = this.conns.map((c) => c.client?.endAsync(true).catch(() => undefined))
    await Promise.race([Promise.all(ends), new Promise((r) => setTimeout(r, 10_000).unref())])
  }

  stats(): { sent: number; acked: number; ackedPoints: number; inflight: number; errors: number; refused: number } {
    return { sent: this.sent, acked: this.ackedCount, ackedPoints: this.ackedPoints, inflight: this.inflight, errors: this.errors, refused: this.refused }
  }

  /** Acknowledged message indexes per series key (telemetry: `zone/factory/line/machine`; other kinds prefixed `kind:`). */
  ackedByMachine(): ReadonlyMap<string, IndexSet> {
    return this.acked
  }

  /** Messages published (acknowledged or not) per series key. */
  sentBySeries(): ReadonlyMap<string, number> {
    const out = new Map<string, number>()
    for (const c of this.conns) for (const m of c.machines) for (const s of Object.values(m)) if (s.next > 0) out.set(s.key, s.next)
    return out
  }

  /** QoS 1 acknowledgement latencies in ms, in completion order (slice from an earlier length for a window). */
  /** How late each paced tick ran, in order (ms): `tickLateness().length` marks a point in time, as for ackLatencies(). */
  tickLateness(): readonly number[] {
    return this.tickLateMs
  }

  ackLatencies(): readonly number[] {
    return this.ackLatenciesMs
  }

  get samplesPerMessage(): number {
    return this.opts.samplesPerMessage
  }
}

