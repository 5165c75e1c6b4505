import { connectAsync, type IClientOptions, type MqttClient } from 'mqtt'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { FAST, SECRETS, hashSecret, testRegistry } from '../helpers/fixtures.js'
import { connectGateway, encode } from '../helpers/gateway.js'
import { influxQuery, startTestInfluxd } from '../helpers/influxd.js'
import { RawMqtt, connectPacket, generate, rawConnect } from '../helpers/raw-mqtt.js'
import { eventually, startTestService, type TestService } from '../helpers/service.js'

// Limits of the broker, each driven over real sockets against the whole service.
let influxd: Awaited<ReturnType<typeof startTestInfluxd>>
const EXTRA_SECRET = 'gw-extra-secret-0123456789'

beforeAll(async () => {
  influxd = await startTestInfluxd()
})
afterAll(async () => {
  await influxd?.dispose()
})

/** The test registry plus gateways gw-a2 … gw-a4 in factory fa. */
async function registryWithExtraGateways(): Promise<unknown> {
  const doc = (await testRegistry()) as { gateways: unknown[] }
  for (const id of ['gw-a2', 'gw-a3', 'gw-a4']) doc.gateways.push({ id, factory: 'fa', secretHash: await hashSecret(EXTRA_SECRET, FAST) })
  return doc
}

async function limitCount(svc: TestService, limit: string): Promise<number> {
  return (await svc.metrics.limits.get()).values.find((v) => v.labels.limit === limit)?.value ?? 0
}

/** Resolves with the CONNACK code (0 = accepted), or 'closed' when the broker closed the connection without one. */
async function attempt(url: string, opts: IClientOptions): Promise<number | 'closed'> {
  try {
    const c = await connectAsync(url, { reconnectPeriod: 0, connectTimeout: 5000, protocolVersion: 4, ...opts }, false)
    await c.endAsync()
    return 0
  } catch (err) {
    return (err as { code?: number }).code ?? 'closed'
  }
}

const telemetry = (signal: string, tsMs = Date.now()) => encode('telemetry', { seq: 1, samples: [{ signal, doubleValue: 1, tsMs }] })

describe('new connections per second', () => {
  let svc: TestService
  beforeAll(async () => {
    svc = await startTestService(influxd.url, { env: { MQTT_CONNECT_RATE: '5', MQTT_CONNECT_RATE_PER_ADDRESS: '10' } })
  })
  afterAll(async () => svc?.dispose())

  it('are refused over the per-address and the global rate, before any MQTT, and every refusal is counted', async () => {
    // 30 at once from one address: the address bucket (burst 20) passes 20, the global one (burst 10) 10 of those.
    const started = performance.now()
    const sockets = await Promise.all(Array.from({ length: 30 }, () => RawMqtt.open(svc.broker.ports.tcp!)))
    const closed = await Promise.all(sockets.map((s) => s.closedWithin(500)))
    const refused = closed.filter(Boolean).length
    expect(30 - refused).toBeGreaterThanOrEqual(10)
    // Tokens refill at 5/s meanwhile, however slowly this machine accepted the 30.
    expect(30 - refused).toBeLessThanOrEqual(10 + Math.ceil((5 * (performance.now() - started)) / 1000))
    // The address bucket refills at 10/s, until the broker has seen all 30 (by the end of the wait for
    // their closing at the latest): on a machine slow to accept them, fewer than 10 meet an empty bucket.
    const seenS = (performance.now() - started) / 1000
    expect(await limitCount(svc, 'connect_rate_address')).toBeGreaterThanOrEqual(Math.max(0, 10 - Math.ceil(10 * seenS)))
    expect((await limitCount(svc, 'connect_rate_address')) + (await limitCount(svc, 'connect_rate_global'))).toBe(refused)
    // The admitted ones are real MQTT connections.
    const open = sockets.filter((_, i) => !closed[i])
    open[0]!.send(connectPacket({ clientId: 'rate-probe', username: 'gw-a', password: SECRETS.gwA }))
    expect(await open[0]!.next('connack')).toMatchObject({ returnCode: 0 })
    for (const s of sockets) s.destroy()
  })
})

describe('per-gateway limits', () => {
  let svc: TestService
  beforeAll(async () => {
    svc = await startTestService(influxd.url, {
      registry: await registryWithExtraGateways(),
      env: {
        MQTT_MAX_CONNECTIONS_PER_GATEWAY: '2',
        MQTT_PUBLISH_RATE_PER_GATEWAY: '100',
        MQTT_MAX_PAYLOAD_BYTES: '4096',
        MQTT_MAX_TOPIC_LENGTH: '64',
        MQTT_MAX_PACKET_BYTES: '16384',
        MQTT_MAX_KEEPALIVE_S: '600',
        MQTT_CONNECT_TIMEOUT_MS: '500',
      },
    })
  })
  afterAll(async () => svc?.dispose())

  it('cap the distinct connections of a gateway (CONNACK 3); a reused client id takes over instead of counting', async () => {
    const opts = { username: 'gw-a2', password: EXTRA_SECRET }
    const c1 = await connectGateway(svc.mqttUrl, 'gw-a2', EXTRA_SECRET, { clientId: 'cap-1' })
    const c2 = await connectGateway(svc.mqttUrl, 'gw-a2', EXTRA_SECRET, { clientId: 'cap-2' })
    expect(await attempt(svc.mqttUrl, { ...opts, clientId: 'cap-3' })).toBe(3)
    expect(await limitCount(svc, 'connections_per_gateway')).toBe(1)
    // [MQTT-3.1.4-2] the same client id again: the old connection is closed, the new one accepted.
    const c1Closed = new Promise<void>((resolve) => c1.once('close', () => resolve()))
    const c1b = await connectGateway(svc.mqttUrl, 'gw-a2', EXTRA_SECRET, { clientId: 'cap-1' })
    await c1Closed
    c1.end(true)
    expect(svc.broker.connectionsOf('gw-a2')).toBe(2)
    await c2.endAsync()
    await eventually(() => svc.broker.connectionsOf('gw-a2') === 1)
    expect(await attempt(svc.mqttUrl, { ...opts, clientId: 'cap-3' })).toBe(0)
    await c1b.endAsync()
    await eventually(() => svc.broker.connectionsOf('gw-a2') === 0)
  })

  it('delay publishes over the gateway\'s rate instead of dropping them, in order, without slowing other gateways', async () => {
    const fast = await connectGateway(svc.mqttUrl, 'gw-a3', EXTRA_SECRET)
    const other = await connectGateway(svc.mqttUrl, 'gw-b', SECRETS.gwB)
    const base = Date.now() - 10_000
    const n = 600 // rate 100/s, burst 200: the last 400 take about 4 s
    const acked: number[] = []
    const started = performance.now()
    const all = Promise.all(
      Array.from({ length: n }, (_, i) =>
        fast.publishAsync('iiot/v1/za/fa/l1/m2/telemetry', telemetry('throttled', base + i), { qos: 1 }).then(() => void acked.push(i)),
      ),
    )
    await new Promise((r) => setTimeout(r, 300))
    const t0 = performance.now()
    await other.publishAsync('iiot/v1/zb/fb/l1/m1/telemetry', telemetry('unthrottled'), { qos: 1 })
    // gw-b waits for nothing of gw-a's backlog, which still has over 3 s to go.
    expect(performance.now() - t0).toBeLessThan(2000)
    await all
    const elapsed = performance.now() - started
    expect(elapsed).toBeGreaterThan(3500)
    expect(acked).toEqual([...acked].sort((a, b) => a - b)) // [MQTT-4.6.0-2] PUBACKs in PUBLISH order
    expect(await limitCount(svc, 'publish_rate')).toBeGreaterThanOrEqual(350)
    await eventually(async () => {
      const rows = await influxQuery(influxd.url, svc.database, `SELECT count("value") FROM telemetry WHERE signal = 'throttled'`)
      return rows[0]?.values[0]?.[1] === n
    })
    await fast.endAsync()
    await other.endAsync()
  })

  it('close a connection whose packet declares more than MQTT_MAX_PACKET_BYTES before buffering it; smaller oversized payloads are rejections', async () => {
    const c = await rawConnect(svc.broker.ports.tcp!, { clientId: 'big-1', username: 'gw-a4', password: EXTRA_SECRET })
    // PUBLISH QoS 0 declaring 200 MB, then a stream of bytes that would be buffered without the guard.
    c.write(Buffer.from([0x30, 0x80, 0x80, 0x80, 0x64]))
    for (let i = 0; i < 64 && !c.isClosed; i++) c.write(Buffer.alloc(64 * 1024, 0x61))
    expect(await c.closedWithin(2000)).toBe(true)
    expect(await limitCount(svc, 'packet_size')).toBe(1)

    const ok = await connectGateway(svc.mqttUrl, 'gw-a4', EXTRA_SECRET)
    await ok.publishAsync('iiot/v1/za/fa/l1/m1/telemetry', Buffer.alloc(6000, 1), { qos: 1 })
    await ok.endAsync()
    // Acknowledged once journaled; rejected when decoded from the journal, just after.
    const rejected = await eventually(async () => (await svc.metrics.rejected.get()).values.find((v) => v.labels.reason === 'payload_too_large')?.value)
    expect(rejected).toBe(1)
  })

  it('close a connection publishing to a topic longer than MQTT_MAX_TOPIC_LENGTH, and refuse such a subscription with 0x80', async () => {
    const sub = await connectGateway(svc.mqttUrl, 'gw-a4', EXTRA_SECRET)
    const granted = await sub.subscribeAsync(`iiot/v1/za/fa/${'x'.repeat(80)}/#`, { qos: 1 }).then(
      () => [],
      (err: { packet?: { granted: number[] } }) => err.packet?.granted,
    )
    expect(granted).toEqual([128])
    expect(sub.connected).toBe(true)
    await sub.endAsync()
    const pub = await connectGateway(svc.mqttUrl, 'gw-a4', EXTRA_SECRET)
    const closed = new Promise<void>((resolve) => pub.once('close', () => resolve()))
    pub.publish(`iiot/v1/za/fa/l1/${'m'.repeat(70)}/telemetry`, telemetry('long'), { qos: 1 })
    await closed
    pub.end(true)
    expect(await limitCount(svc, 'topic_length')).toBe(2)
  })

  it('accept keepalive 0 (MQTT_MAX_KEEPALIVE_S then bounds idleness) and refuse one above MQTT_MAX_KEEPALIVE_S with CONNACK 2', async () => {
    const opts = { username: 'gw-a4', password: EXTRA_SECRET, clientId: 'ka' }
    expect(await attempt(svc.mqttUrl, { ...opts, keepalive: 0 })).toBe(0)
    expect(await attempt(svc.mqttUrl, { ...opts, keepalive: 601 })).toBe(2)
    expect(await attempt(svc.mqttUrl, { ...opts, keepalive: 600 })).toBe(0)
    expect(await limitCount(svc, 'keepalive')).toBe(1)
    const refused = (await svc.metrics.refused.get()).values.find((v) => v.labels.reason === 'keepalive_too_long')?.value
    expect(refused).toBe(1)
  })

  it('close a socket that sends no CONNECT within the connect timeout, on TCP and on WebSocket', async () => {
    const tcp = await RawMqtt.open(svc.broker.ports.tcp!)
    const ws = await RawMqtt.open(svc.broker.ports.ws!)
    expect(await tcp.closedWithin(3000)).toBe(true)
    expect(await ws.closedWithin(3000)).toBe(true)
    expect(await limitCount(svc, 'connect_timeout')).toBeGreaterThanOrEqual(1)
  })

  it('close a connection that queues more than MQTT_QUEUE_LIMIT packets before its CONNECT is processed', async () => {
    const c = await RawMqtt.open(svc.broker.ports.tcp!)
    const ping = generate({ cmd: 'pingreq' })
    c.write(Buffer.concat([generate(connectPacket({ clientId: 'queue', username: 'gw-a4', password: EXTRA_SECRET })), ...Array.from({ length: 100 }, () => ping)]))
    expect(await c.closedWithin(3000)).toBe(true)
    expect(await limitCount(svc, 'queue_limit')).toBe(1)
  })
})

describe('keepalive 0', () => {
  let svc: TestService
  beforeAll(async () => {
    svc = await startTestService(influxd.url, { env: { MQTT_MAX_KEEPALIVE_S: '1' } })
  })
  afterAll(async () => svc?.dispose())

  it('is accepted, and a connection that then sends nothing is closed after 1.5 × MQTT_MAX_KEEPALIVE_S [MQTT-3.1.2-24]', async () => {
    const silent = await rawConnect(svc.broker.ports.tcp!, { clientId: 'ka0-silent', username: 'gw-a', password: SECRETS.gwA, keepalive: 0 })
    const started = performance.now()
    await silent.closed
    const after = performance.now() - started
    expect(after).toBeGreaterThan(1300)
    expect(after).toBeLessThan(5000)
    expect(await limitCount(svc, 'keepalive_timeout')).toBe(1)
  })
})

describe('a frozen subscriber', () => {
  let svc: TestService
  beforeAll(async () => {
    svc = await startTestService(influxd.url, { registry: await registryWithExtraGateways(), env: { MQTT_DRAIN_TIMEOUT_MS: '1000' } })
  })
  afterAll(async () => svc?.dispose())

  it('is disconnected after MQTT_DRAIN_TIMEOUT_MS and does not stall delivery to others', async () => {
    const frozen = await rawConnect(svc.broker.ports.tcp!, { clientId: 'frozen', username: 'gw-a2', password: EXTRA_SECRET })
    frozen.send({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: 'iiot/v1/za/fa/#', qos: 0 }] })
    await frozen.next('suback')
    frozen.socket.pause() // reads nothing more: the broker's writes to it back up
    const healthy: MqttClient = await connectGateway(svc.mqttUrl, 'gw-a3', EXTRA_SECRET)
    await healthy.subscribeAsync('iiot/v1/za/fa/#', { qos: 0 })
    let delivered = 0
    healthy.on('message', () => delivered++)
    const pub = await connectGateway(svc.mqttUrl, 'gw-a4', EXTRA_SECRET)
    const n = 200 // 200 × 200 KB: far more than loopback socket buffers hold
    const payload = Buffer.alloc(200 * 1024, 0xff) // not protobuf: acknowledged, rejected, still forwarded
    for (let i = 0; i < n; i++) await pub.publishAsync('iiot/v1/za/fa/l1/m1/telemetry', payload, { qos: 1 })
    await eventually(() => delivered === n, 20_000)
    await eventually(async () => (await limitCount(svc, 'drain_timeout')) === 1, 10_000)
    await eventually(() => svc.broker.aedes.connectedClients === 2)
    frozen.destroy()
    await healthy.endAsync()
    await pub.endAsync()
  })
})
