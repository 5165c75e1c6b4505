import { connect, type IClientOptions, type MqttClient } from 'mqtt'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { SECRETS } from '../helpers/fixtures.js'
import { connectGateway, encode } from '../helpers/gateway.js'
import { influxQuery, startTestInfluxd } from '../helpers/influxd.js'
import { RawMqtt, connectPacket, generate, rawConnect } from '../helpers/raw-mqtt.js'
import { eventually, startTestService, type TestService } from '../helpers/service.js'

// The MQTT 3.1.1 rules that matter to gateways, with real mqtt.js clients against the whole service.
let influxd: Awaited<ReturnType<typeof startTestInfluxd>>
let svc: TestService

beforeAll(async () => {
  influxd = await startTestInfluxd()
  svc = await startTestService(influxd.url)
})
afterAll(async () => {
  await svc?.dispose()
  await influxd?.dispose()
})

interface Received {
  readonly topic: string
  readonly payload: Buffer
  readonly retain: boolean
}

/** A gw-a connection that records every message from the moment it is created (before CONNACK). */
async function recorder(clientId: string, opts: IClientOptions = {}): Promise<{ client: MqttClient; messages: Received[]; sessionPresent: boolean }> {
  const client = connect(svc.mqttUrl, { clientId, username: 'gw-a', password: SECRETS.gwA, reconnectPeriod: 0, protocolVersion: 4, ...opts })
  const messages: Received[] = []
  client.on('message', (topic, payload, packet) => messages.push({ topic, payload, retain: packet.retain }))
  const connack = await new Promise<{ sessionPresent: boolean }>((resolve, reject) => {
    client.once('connect', resolve)
    client.once('error', reject)
  })
  return { client, messages, sessionPresent: connack.sessionPresent }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))
const telemetry = (signal: string, tsMs = Date.now()) => encode('telemetry', { seq: 1, samples: [{ signal, doubleValue: 1, tsMs }] })

describe('persistent sessions', () => {
  it('queue QoS 1 messages for an offline subscriber (clean: false) and deliver them on reconnect [MQTT-3.1.2-4]', async () => {
    const first = await recorder('persistent-sub', { clean: false })
    await first.client.subscribeAsync('iiot/v1/za/fa/l1/m1/#', { qos: 1 })
    await first.client.endAsync()

    const pub = await connectGateway(svc.mqttUrl, 'gw-a', SECRETS.gwA)
    for (let i = 0; i < 3; i++) await pub.publishAsync('iiot/v1/za/fa/l1/m1/telemetry', telemetry(`queued-${i}`), { qos: 1 })
    await pub.endAsync()

    // The same client id, without subscribing again: the session and its queue are still there.
    const again = await recorder('persistent-sub', { clean: false })
    expect(again.sessionPresent).toBe(true)
    await eventually(() => again.messages.length === 3)
    expect(again.messages.map((m) => m.topic)).toEqual(Array(3).fill('iiot/v1/za/fa/l1/m1/telemetry'))
    await again.client.endAsync()
    // A clean session discards it [MQTT-3.1.2-6].
    const clean = await recorder('persistent-sub', { clean: true })
    expect(clean.sessionPresent).toBe(false)
    await clean.client.endAsync()
  })
})

describe('will messages', () => {
  const willTopic = 'iiot/v1/za/fa/_gateway/gw-a/connectivity'
  const willPayload = () => encode('connectivity', { seq: 1, sentTsMs: Date.now(), reports: [{ access: 3, rttMs: 999, cellId: 'will-cell', tsMs: Date.now() }] })

  it('are published when a gateway\'s connection drops, and stored like any publish', async () => {
    const watcher = await recorder('will-watcher')
    await watcher.client.subscribeAsync(willTopic, { qos: 1 })
    const owner = await recorder('will-owner', { will: { topic: willTopic, payload: willPayload(), qos: 1, retain: false } })
    owner.client.stream.destroy() // a dropped link, not a DISCONNECT
    await eventually(() => watcher.messages.length === 1)
    owner.client.end(true)
    await eventually(async () => (await influxQuery(influxd.url, svc.database, `SELECT "rtt_ms" FROM connectivity WHERE "gateway" = 'gw-a'`)).length > 0)
    await watcher.client.endAsync()
  })

  it('are discarded on a clean DISCONNECT [MQTT-3.14.4-3]', async () => {
    const watcher = await recorder('will-watcher-2')
    await watcher.client.subscribeAsync(willTopic, { qos: 1 })
    const owner = await recorder('will-owner-2', { will: { topic: willTopic, payload: willPayload(), qos: 1, retain: false } })
    await owner.client.endAsync()
    await sleep(300)
    expect(watcher.messages).toEqual([])
    await watcher.client.endAsync()
  })
})

describe('retained messages', () => {
  /** Retained messages Aedes' persistence holds, over every topic. */
  async function retainedCount(): Promise<number> {
    const persistence = (svc.broker.aedes as unknown as { persistence: { createRetainedStream(pattern: string): AsyncIterable<unknown> } }).persistence
    let n = 0
    // Ingest topics only: the service's own Sparkplug STATE message is retained, as Sparkplug requires.
    for await (const _ of persistence.createRetainedStream('iiot/v1/#')) n++
    return n
  }

  it('on ingest topics are ingested and forwarded as usual but never kept, however many topics (docs/security.md)', async () => {
    const topic = 'iiot/v1/za/fa/l1/m2/telemetry'
    const pub = await connectGateway(svc.mqttUrl, 'gw-a', SECRETS.gwA)
    const live = await recorder('retain-live')
    await live.client.subscribeAsync('iiot/v1/za/fa/l1/+/telemetry', { qos: 1 })
    await pub.publishAsync(topic, telemetry('retained-ingested'), { qos: 1, retain: true })
    await eventually(() => live.messages.length === 1)
    expect(live.messages[0]).toMatchObject({ topic, retain: false })
    await eventually(async () => (await influxQuery(influxd.url, svc.database, `SELECT count("value") FROM telemetry WHERE signal = 'retained-ingested'`)).length > 0)

    // A gateway cannot grow the broker's memory with retained messages under its own prefix.
    const n = 200
    await Promise.all(Array.from({ length: n }, (_, i) => pub.publishAsync(`iiot/v1/za/fa/l${i}/m${i}/telemetry`, telemetry(`retained-${i}`), { qos: 1, retain: true })))
    // A retained will is published through the same hook.
    const willTopic = 'iiot/v1/za/fa/_gateway/gw-a/connectivity'
    const willPayload = encode('connectivity', { seq: 1, sentTsMs: Date.now(), reports: [{ access: 3, rttMs: 1, cellId: 'retained-will', tsMs: Date.now() }] })
    const dying = await recorder('retain-will', { will: { topic: willTopic, payload: willPayload, qos: 1, retain: true } })
    await live.client.subscribeAsync(willTopic, { qos: 1 })
    dying.client.stream.destroy()
    await eventually(() => live.messages.some((m) => m.topic === willTopic))
    dying.client.end(true)
    expect(await retainedCount()).toBe(0)
    const late = await recorder('retain-late')
    await late.client.subscribeAsync('iiot/v1/za/fa/#', { qos: 1 })
    await sleep(300)
    expect(late.messages).toEqual([])
    await Promise.all([pub.endAsync(), live.client.endAsync(), late.client.endAsync()])
  })
})

describe('keepalive', () => {
  it('closes a connection that sends nothing for 1.5 × its keepalive [MQTT-3.1.2-24]; one that pings stays', async () => {
    const silent = await rawConnect(svc.broker.ports.tcp!, { clientId: 'ka-silent', username: 'gw-a', password: SECRETS.gwA, keepalive: 1 })
    const pinging = await rawConnect(svc.broker.ports.tcp!, { clientId: 'ka-pinging', username: 'gw-a', password: SECRETS.gwA, keepalive: 1 })
    const started = performance.now()
    const timer = setInterval(() => pinging.send({ cmd: 'pingreq' }), 600)
    try {
      await silent.closed
      const after = performance.now() - started
      expect(after).toBeGreaterThan(1300)
      expect(after).toBeLessThan(4000)
      await sleep(1500)
      expect(pinging.isClosed).toBe(false)
      expect(await pinging.next('pingresp')).toMatchObject({ cmd: 'pingresp' })
    } finally {
      clearInterval(timer)
      pinging.destroy()
    }
    const counted = (await svc.metrics.limits.get()).values.find((v) => v.labels.limit === 'keepalive_timeout')?.value
    expect(counted).toBe(1)
  })
})

describe('session takeover', () => {
  it('closes the first connection when a second uses its client id [MQTT-3.1.4-2], and leaks nothing', async () => {
    // Earlier tests' connections are gone once the broker has seen them close.
    await eventually(() => svc.broker.aedes.connectedClients === 0)
    const baseline = 0
    const first = await connectGateway(svc.mqttUrl, 'gw-a', SECRETS.gwA, { clientId: 'takeover' })
    const firstClosed = new Promise<void>((resolve) => first.once('close', () => resolve()))
    const second = await connectGateway(svc.mqttUrl, 'gw-a', SECRETS.gwA, { clientId: 'takeover' })
    await firstClosed
    first.end(true)
    expect(svc.broker.aedes.connectedClients).toBe(baseline + 1)
    await second.publishAsync('iiot/v1/za/fa/l1/m1/telemetry', telemetry('after-takeover'), { qos: 1 })

    // Twenty more takeovers in a row, then everyone leaves.
    const more: MqttClient[] = []
    for (let i = 0; i < 20; i++) more.push(await connectGateway(svc.mqttUrl, 'gw-a', SECRETS.gwA, { clientId: 'takeover' }))
    await eventually(() => more.slice(0, -1).every((c) => !c.connected) && !second.connected)
    expect(svc.broker.aedes.connectedClients).toBe(baseline + 1)
    expect(svc.broker.connectionsOf('gw-a')).toBe(1)
    for (const c of [second, ...more]) c.end(true)
    await eventually(() => svc.broker.aedes.connectedClients === baseline && svc.broker.connectionsOf('gw-a') === 0)
    expect((svc.broker.aedes as unknown as { clients: Record<string, unknown> }).clients.takeover).toBeUndefined()
  })
})

describe('topic names', () => {
  it('close the connection on ill-formed UTF-8 [MQTT-1.5.3-1] or U+0000 [MQTT-1.5.3-2], in a PUBLISH or a SUBSCRIBE', async () => {
    const badUtf8 = (cmd: 'publish' | 'subscribe') => {
      const p = generate(cmd === 'publish'
        ? { cmd, topic: 'iiot/v1/za/fa/l1/XX/telemetry', payload: Buffer.from([1]), qos: 0, retain: false, dup: false }
        : { cmd, messageId: 1, subscriptions: [{ topic: 'iiot/v1/za/fa/XX/#', qos: 0 }] })
      Buffer.from([0xc3, 0x28]).copy(p, p.indexOf('XX'))
      return p
    }
    const cases = [badUtf8('publish'), badUtf8('subscribe'), generate({ cmd: 'publish', topic: 'iiot/v1/za/fa/l1/m1\u0000/telemetry', payload: Buffer.from([1]), qos: 0, retain: false, dup: false })]
    for (const [i, bytes] of cases.entries()) {
      const c = await rawConnect(svc.broker.ports.tcp!, { clientId: `utf8-${i}`, username: 'gw-a', password: SECRETS.gwA })
      c.write(bytes)
      expect(await c.closedWithin(2000), `case ${i}`).toBe(true)
    }
    const refused = (await svc.metrics.refused.get()).values.filter((v) => v.labels.reason === 'malformed_topic')
    expect(refused.reduce((n, v) => n + v.value, 0)).toBe(3)
  })
})

describe('client identifiers', () => {
  it('refuses an empty client id with a persistent session (clean: false) with CONNACK 2 [MQTT-3.1.3-8]', async () => {
    // mqtt-packet will not encode this CONNECT, so it is written by hand.
    const str = (s: string) => Buffer.concat([Buffer.from([s.length >> 8, s.length & 0xff]), Buffer.from(s)])
    const body = Buffer.concat([str('MQTT'), Buffer.from([4, 0xc0, 0, 60]), str(''), str('gw-a'), str(SECRETS.gwA)])
    const c = await RawMqtt.open(svc.broker.ports.tcp!)
    c.write(Buffer.concat([Buffer.from([0x10, body.length]), body]))
    expect(await c.next('connack')).toMatchObject({ returnCode: 2 })
    expect(await c.closedWithin(2000)).toBe(true)
  })
})

describe('CONNECT', () => {
  const str = (s: string) => Buffer.concat([Buffer.from([s.length >> 8, s.length & 0xff]), Buffer.from(s)])
  /** A CONNECT with keepalive 60 written by hand, so that any level and flags can be sent. */
  const rawConnectBytes = (name: string, level: number, flags: number, fields: string[]) => {
    const body = Buffer.concat([str(name), Buffer.from([level, flags, 0, 60]), ...fields.map(str)])
    return Buffer.concat([Buffer.from([0x10, body.length]), body])
  }

  it('answers a protocol level the broker does not speak with CONNACK 1, then closes [MQTT-3.1.2-2]', async () => {
    const cases = [
      rawConnectBytes('MQTT', 6, 0xc2, ['level-6', 'gw-a', SECRETS.gwA]),
      rawConnectBytes('MQTT', 2, 0xc2, ['level-2', 'gw-a', SECRETS.gwA]),
      rawConnectBytes('MQIsdp', 0x86, 0xc2, ['level-6-bridge', 'gw-a', SECRETS.gwA]),
      generate(connectPacket({ clientId: 'level-5', username: 'gw-a', password: SECRETS.gwA, protocolVersion: 5 })),
    ]
    for (const [i, bytes] of cases.entries()) {
      const c = await RawMqtt.open(svc.broker.ports.tcp!)
      // One byte at a time: the level is found however the CONNECT is cut.
      for (const b of bytes) c.write(Buffer.from([b]))
      expect(await c.next('connack'), `case ${i}`).toMatchObject({ returnCode: 1 })
      expect(await c.closedWithin(2000), `case ${i}`).toBe(true)
    }
    const refused = (await svc.metrics.refused.get()).values.find((v) => v.labels.reason === 'protocol_version')?.value
    expect(refused).toBe(3) // the level-5 one is Aedes' own answer
    // MQTT 3.1 (MQIsdp, level 3) and 3.1.1 still connect.
    for (const [name, level] of [['MQIsdp', 3], ['MQTT', 4]] as const) {
      const c = await RawMqtt.open(svc.broker.ports.tcp!)
      c.write(rawConnectBytes(name, level, 0xc2, [`level-${level}`, 'gw-a', SECRETS.gwA]))
      expect(await c.next('connack'), name).toMatchObject({ returnCode: 0 })
      c.destroy()
    }
  })

  it('closes, without CONNACK, a CONNECT with a password but no username [MQTT-3.1.2-22]', async () => {
    const c = await RawMqtt.open(svc.broker.ports.tcp!)
    c.write(rawConnectBytes('MQTT', 4, 0x42, ['password-only', SECRETS.gwA]))
    expect(await c.closedWithin(2000)).toBe(true)
    expect(c.received).toEqual([])
    const refused = (await svc.metrics.refused.get()).values.find((v) => v.labels.reason === 'password_without_username')?.value
    expect(refused).toBe(1)
  })
})
