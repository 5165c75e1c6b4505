import { connectAsync, type MqttClient } from 'mqtt'
import { messageTypes } from '../../src/pipeline/proto-schema.js'

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
  /** Total publish rate over all gateways; 0 = as fast as acknowledgements allow (closed loop). */
  readonly messagesPerSecond: number
  readonly samplesPerMessage: number
  readonly qos: 0 | 1
  /** Unacknowledged messages per gateway before it waits (MQTT inflight window). */
  readonly maxInflight?: number
  /** Sample timestamps start here and advance 1 ms per message per machine, so every point is distinct. */
  readonly baseTsMs?: number
}

/** One message's identity: which machine, and its index (its sample timestamps are base + index). */
interface Sent {
  readonly machineKey: string
  readonly index: number
  readonly publishedAt: number
}

/**
 * Real mqtt.js gateways publishing telemetry with QoS 1 and persistent
 * sessions (clean: false): on a reconnect, mqtt.js resends what the broker
 * had not acknowledged. Every message is identifiable in InfluxDB (signal
 * `s0` at base + index ms), so loss and duplication can be counted exactly.
 */
export class LoadGenerator {
  readonly base: number
  private readonly clients: MqttClient[] = []
  private readonly nextIndex = new Map<string, number>()
  private readonly acked = new Map<string, Set<number>>()
  private readonly ackLatenciesMs: number[] = []
  private running = false
  private sent = 0
  private ackedCount = 0
  private errors = 0
  private inflight = 0
  private timer: NodeJS.Timeout | undefined
  private readonly types = messageTypes()

  constructor(private readonly opts: LoadOptions) {
    this.base = opts.baseTsMs ?? Date.now() - 60_000
  }

  async connect(): Promise<void> {
    for (const gw of this.opts.gateways) {
      const client = await connectAsync(this.opts.url, {
        clientId: `${gw.id}-load`,
        username: gw.id,
        password: gw.secret,
        clean: false,
        reconnectPeriod: 200,
        connectTimeout: 5000,
        protocolVersion: 4,
        queueQoSZero: false,
      })
      client.on('error', () => this.errors++)
      this.clients.push(client)
    }
  }

  start(): void {
    this.running = true
    const perTickMs = 10
    let carry = 0
    let turn = 0
    const tick = () => {
      if (!this.running) return
      const budget = this.opts.messagesPerSecond > 0 ? (this.opts.messagesPerSecond * perTickMs) / 1000 + carry : Number.POSITIVE_INFINITY
      let n = Math.floor(budget)
      carry = budget - n
      const maxInflight = (this.opts.maxInflight ?? 100) * this.clients.length
      while (n-- > 0 && this.inflight < maxInflight) {
        const g = turn++ % this.clients.length
        const client = this.clients[g]!
        const gw = this.opts.gateways[g]!
        const m = gw.machines[Math.floor(turn / this.clients.length) % gw.machines.length]!
        this.publishOne(client, gw, m)
      }
      this.timer = setTimeout(tick, perTickMs)
    }
    tick()
  }

  private publishOne(client: MqttClient, gw: LoadGateway, m: { line: string; machine: string }): void {
    const key = `${gw.zone}/${gw.factory}/${m.line}/${m.machine}`
    const index = this.nextIndex.get(key) ?? 0
    this.nextIndex.set(key, index + 1)
    const ts = this.base + index
    const samples = Array.from({ length: this.opts.samplesPerMessage }, (_, k) => ({ signal: `s${k}`, doubleValue: index + k / 10, tsMs: ts }))
    const payload = this.types.telemetry.encode(this.types.telemetry.fromObject({ seq: index & 0xffffffff, sentTsMs: Date.now(), samples })).finish()
    const sent: Sent = { machineKey: key, index, publishedAt: performance.now() }
    this.sent++
    this.inflight++
    client.publish(`iiot/v1/${key}/telemetry`, Buffer.from(payload), { qos: this.opts.qos }, (err) => {
      this.inflight--
      if (err) {
        this.errors++
        return
      }
      this.ackedCount++
      this.ackLatenciesMs.push(performance.now() - sent.publishedAt)
      let set = this.acked.get(key)
      if (!set) this.acked.set(key, (set = new Set()))
      set.add(index)
    })
  }

  /** Stops generating; waits (bounded) for outstanding acknowledgements. */
  async stop(waitMs = 30_000): Promise<void> {
    this.running = false
    clearTimeout(this.timer)
    const deadline = Date.now() + waitMs
    while (this.inflight > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50))
  }

  async disconnect(): Promise<void> {
    await Promise.all(this.clients.map((c) => c.endAsync(true)))
  }

  stats(): { sent: number; acked: number; inflight: number; errors: number } {
    return { sent: this.sent, acked: this.ackedCount, inflight: this.inflight, errors: this.errors }
  }

  /** Acknowledged message indexes per machine key. */
  ackedByMachine(): ReadonlyMap<string, ReadonlySet<number>> {
    return this.acked
  }

  ackLatencies(): readonly number[] {
    return this.ackLatenciesMs
  }
}

/**
 * Compares what the gateways saw acknowledged with what InfluxDB holds:
 * `lost` = acknowledged messages missing; `duplicates` = points beyond one per
 * (machine, signal, timestamp), which must be 0 since re-sent points overwrite themselves.
 */
export async function verifyStored(
  gen: LoadGenerator,
  query: (q: string) => Promise<{ tags?: Record<string, string>; values?: unknown[][] }[]>,
  samplesPerMessage: number,
): Promise<{ acked: number; stored: number; lost: number; pointsStored: number; duplicates: number }> {
  const series = await query(`SELECT "value" FROM "telemetry" WHERE "signal" = 's0' AND time >= ${gen.base}ms GROUP BY "zone", "factory", "line", "machine"`)
  const storedByMachine = new Map<string, Set<number>>()
  for (const s of series) {
    const t = s.tags ?? {}
    const set = new Set<number>()
    for (const row of s.values ?? []) set.add((row[0] as number) - gen.base)
    storedByMachine.set(`${t.zone}/${t.factory}/${t.line}/${t.machine}`, set)
  }
  let acked = 0
  let lost = 0
  for (const [key, indexes] of gen.ackedByMachine()) {
    const stored = storedByMachine.get(key)
    for (const i of indexes) {
      acked++
      if (!stored?.has(i)) lost++
    }
  }
  let stored = 0
  for (const s of storedByMachine.values()) stored += s.size
  const countRows = await query(`SELECT count("value") FROM "telemetry" WHERE time >= ${gen.base}ms`)
  const pointsStored = (countRows[0]?.values?.[0]?.[1] as number | undefined) ?? 0
  return { acked, stored, lost, pointsStored, duplicates: pointsStored - stored * samplesPerMessage }
}
