import { connect, type IClientOptions, type MqttClient } from 'mqtt'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { SECRETS } from '../helpers/fixtures.js'
import { connectGateway, encode } from '../helpers/gateway.js'
import { startTestInfluxd } from '../helpers/influxd.js'
import { rawConnect, type Packet } from '../helpers/raw-mqtt.js'
import { eventually, startTestService, type TestService } from '../helpers/service.js'

// A client id belongs to the gateway that holds it (docs/security.md): regression tests for a
// session takeover [MQTT-3.1.4-2] across gateways, which disconnected the holder and, with
// clean: false, handed another factory the holder's session and queued messages.
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

const CREDENTIALS = { a: { username: 'gw-a', password: SECRETS.gwA }, b: { username: 'gw-b', password: SECRETS.gwB } } as const

interface Attempt {
  /** CONNACK return code (0 = accepted), or 'closed' without one. */
  readonly code: number | 'closed'
  readonly sessionPresent: boolean
  readonly client: MqttClient
  /** Topics of every message received from the moment of the CONNECT. */
  readonly messages: string[]
}

/** Connects and records everything the connection receives, accepted or not; the caller ends `client`. */
async function attempt(gateway: 'a' | 'b', opts: IClientOptions): Promise<Attempt> {
  const client = connect(svc.mqttUrl, { reconnectPeriod: 0, connectTimeout: 5000, protocolVersion: 4, ...CREDENTIALS[gateway], ...opts })
  const messages: string[] = []
  client.on('message', (topic) => messages.push(topic))
  return new Promise((resolve) => {
    client.once('connect', (connack) => resolve({ code: 0, sessionPresent: connack.sessionPresent, client, messages }))
    client.once('error', (err) => resolve({ code: (err as { code?: number }).code ?? 'closed', sessionPresent: false, client, messages }))
    client.once('close', () => resolve({ code: 'closed', sessionPresent: false, client, messages }))
  })
}

async function refusedTaken(): Promise<number> {
  return (await svc.metrics.refused.get()).values.find((v) => v.labels.operation === 'connect' && v.labels.reason === 'client_id_taken')?.value ?? 0
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))
const telemetry = (signal: string) => encode('telemetry', { seq: 1, samples: [{ signal, doubleValue: 1, tsMs: Date.now() }] })

describe('a client id held by one gateway', () => {
  it('is refused to another gateway with CONNACK 2, again and again, and the holder stays connected', async () => {
    const holder = await connectGateway(svc.mqttUrl, 'gw-a', SECRETS.gwA, { clientId: 'held-by-a' })
    let holderClosed = false
    holder.on('close', () => (holderClosed = true))
    const before = await refusedTaken()
    for (let i = 0; i < 5; i++) {
      const b = await attempt('b', { clientId: 'held-by-a' })
      b.client.end(true)
      expect(b.code, `attempt ${i}`).toBe(2)
    }
    expect(await refusedTaken()).toBe(before + 5)
    await sleep(200)
    expect(holderClosed).toBe(false)
    await holder.publishAsync('iiot/v1/za/fa/l1/m1/telemetry', telemetry('holder-still-up'), { qos: 1 })
    expect(svc.broker.connectionsOf('gw-a')).toBe(1)
    expect(svc.broker.connectionsOf('gw-b')).toBe(0)
    await holder.endAsync()
  })

  it('still takes over its own session from the same gateway [MQTT-3.1.4-2]', async () => {
    const first = await connectGateway(svc.mqttUrl, 'gw-a', SECRETS.gwA, { clientId: 'own-takeover' })
    const firstClosed = new Promise<void>((resolve) => first.once('close', () => resolve()))
    const second = await connectGateway(svc.mqttUrl, 'gw-a', SECRETS.gwA, { clientId: 'own-takeover' })
    await firstClosed
    first.end(true)
    expect(second.connected).toBe(true)
    const b = await attempt('b', { clientId: 'own-takeover' })
    b.client.end(true)
    expect(b.code).toBe(2)
    await second.publishAsync('iiot/v1/za/fa/l1/m1/telemetry', telemetry('after-own-takeover'), { qos: 1 })
    await second.endAsync()
  })
})

describe('a refused CONNECT with a held client id', () => {
  it('leaves the holder\'s QoS 2 receive state alone: a retransmitted PUBLISH is not forwarded twice [MQTT-4.3.3-2]', async () => {
    const watcher = await connectGateway(svc.mqttUrl, 'gw-a', SECRETS.gwA)
    let forwarded = 0
    watcher.on('message', () => forwarded++)
    await watcher.subscribeAsync('iiot/v1/za/fa/l1/m2/#', { qos: 0 })
    const holder = await rawConnect(svc.broker.ports.tcp!, { clientId: 'qos2-holder', username: 'gw-a', password: SECRETS.gwA })
    const publish: Packet = { cmd: 'publish', topic: 'iiot/v1/za/fa/l1/m2/telemetry', payload: telemetry('qos2'), qos: 2, messageId: 7, retain: false, dup: false }
    holder.send(publish)
    expect(await holder.next('pubrec')).toMatchObject({ messageId: 7 })
    // Another gateway, then someone with a wrong secret, each with a clean session and the holder's id.
    const taken = await attempt('b', { clientId: 'qos2-holder', clean: true })
    const wrong = await attempt('a', { clientId: 'qos2-holder', clean: true, password: 'wrong' })
    taken.client.end(true)
    wrong.client.end(true)
    expect([taken.code, wrong.code]).toEqual([2, 5])
    await sleep(100)
    // The PUBREC was lost, say: the holder sends the PUBLISH again [MQTT-4.3.3-1], then PUBREL.
    holder.send({ ...publish, dup: true })
    expect(await holder.next('pubrec')).toMatchObject({ messageId: 7 })
    holder.send({ cmd: 'pubrel', messageId: 7 })
    expect(await holder.next('pubcomp')).toMatchObject({ messageId: 7 })
    await sleep(300)
    expect(forwarded).toBe(1)
    holder.destroy()
    await watcher.endAsync()
  })
})

describe('a persistent session (clean: false)', () => {
  it('stays its gateway\'s while offline: another gateway gets neither the session nor its queued QoS 1 messages', async () => {
    const owner = await attempt('a', { clientId: 'persistent-a', clean: false })
    expect(owner.code).toBe(0)
    await owner.client.subscribeAsync('iiot/v1/za/fa/l1/m1/#', { qos: 1 })
    await owner.client.endAsync()

    const pub = await connectGateway(svc.mqttUrl, 'gw-a', SECRETS.gwA)
    for (let i = 0; i < 3; i++) await pub.publishAsync('iiot/v1/za/fa/l1/m1/telemetry', telemetry(`for-a-${i}`), { qos: 1 })
    await pub.endAsync()

    const intruder = await attempt('b', { clientId: 'persistent-a', clean: false })
    await sleep(300)
    intruder.client.end(true)
    expect({ code: intruder.code, sessionPresent: intruder.sessionPresent, messages: intruder.messages }).toEqual({ code: 2, sessionPresent: false, messages: [] })

    const back = await attempt('a', { clientId: 'persistent-a', clean: false })
    expect(back.code).toBe(0)
    expect(back.sessionPresent).toBe(true)
    await eventually(() => back.messages.length === 3)
    // A clean session by the owner ends it [MQTT-3.1.2-6]; the id is then free for anyone.
    await back.client.endAsync()
    const clean = await attempt('a', { clientId: 'persistent-a', clean: true })
    await clean.client.endAsync()
    const other = await eventually(async () => {
      const b = await attempt('b', { clientId: 'persistent-a', clean: false })
      await b.client.endAsync(true)
      return b.code === 0 && b
    })
    expect(other.sessionPresent).toBe(false)
    expect(other.messages).toEqual([])
  })

  it('without subscriptions or queued messages holds nothing: the id is free once its connection closes', async () => {
    const owner = await attempt('a', { clientId: 'no-session-a', clean: false })
    expect(owner.code).toBe(0)
    await owner.client.endAsync()
    await eventually(async () => {
      const b = await attempt('b', { clientId: 'no-session-a', clean: true })
      await b.client.endAsync(true)
      return b.code === 0
    })
  })
})

describe('a clean session (clean: true)', () => {
  it('frees its client id when its connection closes', async () => {
    const owner = await attempt('a', { clientId: 'clean-a' })
    expect(owner.code).toBe(0)
    await owner.client.endAsync()
    await eventually(async () => {
      const b = await attempt('b', { clientId: 'clean-a' })
      await b.client.endAsync(true)
      return b.code === 0
    })
    // Every connection of this file is closed and no persistent session is left: no binding either.
    await eventually(() => svc.broker.aedes.connectedClients === 0 && svc.broker.ownedClientIds() === 0)
  })
})
