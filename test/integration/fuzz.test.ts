import { heapAfterGc } from '../helpers/memory.js'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { LoadGenerator } from '../../bench/lib/load-generator.js'
import { verifyStored } from '../../bench/lib/verify-stored.js'
import { total } from '../../src/metrics/metrics.js'
import { LOAD_GATEWAYS, SECRETS } from '../helpers/fixtures.js'
import { bytes, fuzzPacket, fuzzPayload, int, mulberry32, pick, type Rng } from '../helpers/fuzz-inputs.js'
import { influxQuery, startTestInfluxd } from '../helpers/influxd.js'
import { RawMqtt, connectPacket, generate } from '../helpers/raw-mqtt.js'
import { eventually, startTestService, type TestService } from '../helpers/service.js'

/*
 * A bounded, seeded fuzz run: malformed MQTT and mutated protobuf payloads from
 * many connections while a well-behaved gateway keeps publishing. Reproduce a
 * failure with the seed it prints: FUZZ_SEED=<seed> npx vitest run test/integration/fuzz.test.ts
 */
const SEED = Number(process.env.FUZZ_SEED ?? 20_261_125)
const DURATION_MS = Number(process.env.FUZZ_DURATION_MS ?? 30_000)
const WORKERS = 12
const LIMITS = { maxPayloadBytes: 16_384, maxPacketBytes: 65_536, maxBatch: 1000 }

let influxd: Awaited<ReturnType<typeof startTestInfluxd>>
let svc: TestService

beforeAll(async () => {
  influxd = await startTestInfluxd()
  svc = await startTestService(influxd.url, {
    env: {
      MQTT_CONNECT_RATE: '0', // the fuzzers all come from 127.0.0.1; connection rates are tested in broker-limits
      MQTT_CONNECT_RATE_PER_ADDRESS: '0',
      MQTT_MAX_CONNECTIONS_PER_GATEWAY: '100', // every fuzzer connects as gw-a
      MQTT_MAX_PAYLOAD_BYTES: String(LIMITS.maxPayloadBytes),
      MQTT_MAX_PACKET_BYTES: String(LIMITS.maxPacketBytes),
      INGEST_MAX_BATCH: String(LIMITS.maxBatch),
      MQTT_CONNECT_TIMEOUT_MS: '2000',
    },
  })
})
afterAll(async () => {
  await svc?.dispose()
  await influxd?.dispose()
})


interface Tally {
  connections: number
  packets: Record<string, number>
  payloads: Record<string, number>
  published: number
  acked: number
  surelyInvalidAcked: number
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

/** One connection: valid CONNECT of gw-a, then malformed or hostile MQTT. */
async function packetScenario(rng: Rng, tally: Tally, id: string): Promise<void> {
  const c = await RawMqtt.open(svc.broker.ports.tcp!)
  try {
    if (rng() < 0.15) {
      c.write(bytes(rng, int(rng, 1, 2000))) // garbage instead of a CONNECT [MQTT-3.1.0-1]
    } else {
      c.send(connectPacket({ clientId: id, username: 'gw-a', password: SECRETS.gwA, keepalive: 30 }))
      await c.next('connack', 3000)
      for (let i = int(rng, 1, 8); i > 0 && !c.isClosed; i--) {
        const p = fuzzPacket(rng, LIMITS)
        tally.packets[p.how] = (tally.packets[p.how] ?? 0) + 1
        c.write(p.bytes)
        await sleep(int(rng, 0, 20))
      }
    }
    await c.closedWithin(200)
  } finally {
    c.destroy()
  }
}

/** One connection: valid MQTT, QoS 1 publishes of mutated protobuf payloads, every PUBACK awaited. */
async function payloadScenario(rng: Rng, tally: Tally, id: string): Promise<void> {
  const c = await RawMqtt.open(svc.broker.ports.tcp!)
  try {
    c.send(connectPacket({ clientId: id, username: 'gw-a', password: SECRETS.gwA, keepalive: 30 }))
    if ((await c.next('connack', 3000)) === undefined) return
    const sent = new Map<number, boolean>()
    for (let i = 1, n = int(rng, 5, 30); i <= n; i++) {
      const p = fuzzPayload(rng, Date.now(), LIMITS)
      tally.payloads[p.how] = (tally.payloads[p.how] ?? 0) + 1
      c.write(generate({ cmd: 'publish', topic: p.topic, payload: p.payload, qos: 1, messageId: i, retain: rng() < 0.05, dup: false }))
      sent.set(i, p.surelyInvalid)
      tally.published++
    }
    while (sent.size > 0) {
      const ack = (await c.next('puback', 15_000)) as { messageId: number } | undefined
      if (!ack) throw new Error(`connection closed with ${sent.size} publishes unacknowledged`)
      if (sent.get(ack.messageId)) tally.surelyInvalidAcked++
      if (sent.delete(ack.messageId)) tally.acked++
    }
    c.send({ cmd: 'disconnect' })
  } finally {
    c.destroy()
  }
}

describe('fuzzing the broker and the pipeline', () => {
  it(`survives ${DURATION_MS / 1000} s of malformed MQTT and mutated payloads (seed ${SEED}), loses nothing of a good gateway, counts every rejection`, async () => {
    const gen = new LoadGenerator({ url: svc.mqttUrl, gateways: [LOAD_GATEWAYS[1]!], messagesPerSecond: 100, samplesPerMessage: 2, qos: 1 })
    await gen.connect()
    const before = { in: await total(svc.metrics.mqttIn), accepted: await total(svc.metrics.accepted), rejected: await total(svc.metrics.rejected), dropped: await total(svc.metrics.qos0Dropped) }
    const heapBaseline = heapAfterGc()
    let heapPeak = 0
    let rssPeak = 0
    const sampler = setInterval(() => {
      const m = process.memoryUsage()
      heapPeak = Math.max(heapPeak, m.heapUsed)
      rssPeak = Math.max(rssPeak, m.rss)
    }, 250)

    gen.start()
    const tally: Tally = { connections: 0, packets: {}, payloads: {}, published: 0, acked: 0, surelyInvalidAcked: 0 }
    const clientErrors: string[] = []
    const deadline = Date.now() + DURATION_MS
    await Promise.all(
      Array.from({ length: WORKERS }, async (_, w) => {
        const rng = mulberry32(SEED + w)
        for (let i = 0; Date.now() < deadline; i++) {
          tally.connections++
          const scenario = pick(rng, [packetScenario, packetScenario, payloadScenario])
          await scenario(rng, tally, `fuzz-${w}-${i}`).catch((err: Error) => {
            if (scenario === payloadScenario) clientErrors.push(err.message)
          })
        }
      }),
    )
    await gen.stop()
    clearInterval(sampler)

    // The process is alive and still serves: the API answers and a fresh gateway connects.
    expect((await fetch(`${svc.httpUrl}/healthz`)).status).toBe(200)
    const probe = await RawMqtt.open(svc.broker.ports.tcp!)
    probe.send(connectPacket({ clientId: 'after-fuzz', username: 'gw-a', password: SECRETS.gwA }))
    expect(await probe.next('connack')).toMatchObject({ returnCode: 0 })
    probe.destroy()

    // Valid MQTT with bad payloads is never refused: every such publish was acknowledged.
    expect(clientErrors).toEqual([])
    // Every message handed to the pipeline is accepted, a counted rejection, or a counted QoS 0 drop.
    // Decoding follows the acknowledgement (log first): the sums agree once the journal is through.
    await eventually(() => svc.journal.stats().unwrittenRecords === 0, 30_000)
    const after = { in: await total(svc.metrics.mqttIn), accepted: await total(svc.metrics.accepted), rejected: await total(svc.metrics.rejected), dropped: await total(svc.metrics.qos0Dropped) }
    const d = { in: after.in - before.in, accepted: after.accepted - before.accepted, rejected: after.rejected - before.rejected, dropped: after.dropped - before.dropped }
    expect(d.accepted + d.rejected + d.dropped).toBe(d.in)
    expect(d.in).toBeGreaterThanOrEqual(tally.acked + gen.stats().acked)
    expect(d.rejected).toBeGreaterThanOrEqual(tally.surelyInvalidAcked)
    const reasons = (await svc.metrics.rejected.get()).values.filter((v) => v.value > 0).map((v) => v.labels.reason)
    expect(reasons).toEqual(expect.arrayContaining(['decode_error', 'batch_too_large', 'payload_too_large', 'empty_payload', 'non_finite_number', 'future_timestamp', 'stale_timestamp', 'unknown_machine']))

    // Every acknowledged message of the good gateway is stored.
    const good = await eventually(async () => {
      const r = await verifyStored(gen, (q) => influxQuery(influxd.url, svc.database, q), 2)
      return r.lost === 0 ? r : undefined
    }, 30_000, 500)
    expect(good.acked).toBeGreaterThan((DURATION_MS / 1000) * 100 * 0.8)
    await gen.disconnect()

    // Connections and memory come back.
    await eventually(() => svc.broker.aedes.connectedClients === 0 && svc.broker.connectionsOf('gw-a') === 0, 10_000)
    const heapAfter = heapAfterGc()
    const limits = Object.fromEntries((await svc.metrics.limits.get()).values.map((v) => [v.labels.limit, v.value]))
    expect(limits.packet_size).toBeGreaterThan(0)
    expect(heapPeak - heapBaseline).toBeLessThan(256 * 1024 * 1024)
    expect(heapAfter - heapBaseline).toBeLessThan(48 * 1024 * 1024)

    const mb = (n: number) => Math.round(n / 1024 / 1024)
    process.stdout.write(`${JSON.stringify({ fuzz: { seed: SEED, durationS: DURATION_MS / 1000, connections: tally.connections, packets: tally.packets, payloads: tally.payloads, published: tally.published, acked: tally.acked, pipeline: d, limits, good: { acked: good.acked, lost: good.lost }, heapMb: { baseline: mb(heapBaseline), peak: mb(heapPeak), afterGc: mb(heapAfter) }, rssPeakMb: mb(rssPeak) } })}\n`)
  }, DURATION_MS + 90_000)
})
