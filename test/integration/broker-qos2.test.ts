import { connect, type MqttClient } from 'mqtt'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { total } from '../../src/metrics/metrics.js'
import { SECRETS } from '../helpers/fixtures.js'
import { encode } from '../helpers/gateway.js'
import { startTestInfluxd } from '../helpers/influxd.js'
import { generate, rawConnect, type RawMqtt } from '../helpers/raw-mqtt.js'
import { eventually, startTestService, type TestService } from '../helpers/service.js'

// QoS 2 is exactly once [MQTT-4.3.3]: a PUBLISH resent with the same packet id before the PUBREL
// (after a dropped link, with clean: false) is acknowledged again but journaled once (docs/delivery.md).
let influxd: Awaited<ReturnType<typeof startTestInfluxd>>
let svc: TestService
const open: MqttClient[] = []
const raws: RawMqtt[] = []

beforeAll(async () => {
  influxd = await startTestInfluxd()
  svc = await startTestService(influxd.url)
})
afterAll(async () => {
  for (const c of open) c.end(true)
  for (const r of raws) r.destroy()
  await svc?.dispose()
  await influxd?.dispose()
})

const T = 'iiot/v1/za/fa/l1/m1/telemetry'
const telemetry = (signal: string) => encode('telemetry', { seq: 1, samples: [{ signal, doubleValue: 1, tsMs: Date.now() - 1000 }] })
const received = () => total(svc.metrics.received)
const rejectionsOf = (topic: string) => svc.rejections.list({ limit: 1000, filter: (r) => r.topic === topic }).length
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

/**
 * A mqtt.js gateway (clean: false, reconnecting) whose link drops as the first PUBREC arrives:
 * the PUBREC is lost with the socket, so after reconnecting mqtt.js resends the PUBLISH (DUP=1,
 * the same packet id) and completes the handshake.
 */
async function publishLosingFirstPubrec(clientId: string, topic: string, payload: Buffer): Promise<{ resent: boolean }> {
  const client = connect(svc.mqttUrl, { clientId, username: 'gw-a', password: SECRETS.gwA, clean: false, reconnectPeriod: 100, protocolVersion: 4 })
  open.push(client)
  await new Promise<void>((resolve, reject) => {
    client.once('connect', () => resolve())
    client.once('error', reject)
  })
  let dropped = false
  let resent = false
  client.on('packetreceive', (packet) => {
    if (packet.cmd !== 'pubrec' || dropped) return
    dropped = true
    client.stream.destroy()
    // Lost on the way: mqtt.js ignores an acknowledgement of an id it has not used.
    ;(packet as { messageId?: number }).messageId = 0
  })
  client.on('packetsend', (packet) => {
    if (dropped && packet.cmd === 'publish') resent = true
  })
  await client.publishAsync(topic, payload, { qos: 2 })
  expect(dropped).toBe(true)
  await client.endAsync()
  return { resent }
}

describe('QoS 2 resent after a dropped link', () => {
  it('a message whose PUBREC was lost is counted once', async () => {
    const before = await received()
    const { resent } = await publishLosingFirstPubrec('qos2-telemetry', T, telemetry('qos2.once'))
    expect(resent).toBe(true)
    await eventually(async () => (await received()) >= before + 1)
    await sleep(300) // a second decode would land by now
    expect(await received()).toBe(before + 1)
    expect(svc.broker.qos2Awaiting()).toBe(0) // released by the PUBREL
  })

  it('a bad message whose PUBREC was lost is kept as one rejection', async () => {
    const topic = 'iiot/v1/za/fa/l1/m2/telemetry'
    const { resent } = await publishLosingFirstPubrec('qos2-bad', topic, Buffer.from('not protobuf at all'))
    expect(resent).toBe(true)
    await eventually(() => rejectionsOf(topic) >= 1)
    await sleep(300)
    expect(rejectionsOf(topic)).toBe(1)
  })
})

const port = () => svc.broker.ports.tcp!
const gwA = (clientId: string, clean: boolean) => rawConnect(port(), { clientId, username: 'gw-a', password: SECRETS.gwA, clean }).then((c) => (raws.push(c), c))
const publishQos2 = (c: RawMqtt, messageId: number, payload: Buffer, dup = false) => c.send({ cmd: 'publish', topic: T, payload, qos: 2, messageId, dup, retain: false })

describe('QoS 2 packet ids', () => {
  it('a packet id released by PUBREL carries a new message; the same id twice before it, one', async () => {
    const before = await received()
    const c = await gwA('qos2-raw', false)
    // The original and a resend in one socket chunk: Aedes dispatches a chunk's packets together.
    c.write(Buffer.concat([generateOf(7, telemetry('raw.a')), generateOf(7, telemetry('raw.a'), true)]))
    expect(await c.next('pubrec')).toMatchObject({ messageId: 7 })
    expect(await c.next('pubrec')).toMatchObject({ messageId: 7 })
    expect(svc.broker.qos2Awaiting()).toBe(1)
    c.send({ cmd: 'pubrel', messageId: 7 })
    expect(await c.next('pubcomp')).toMatchObject({ messageId: 7 })
    expect(svc.broker.qos2Awaiting()).toBe(0)
    publishQos2(c, 7, telemetry('raw.b'))
    expect(await c.next('pubrec')).toMatchObject({ messageId: 7 })
    c.send({ cmd: 'pubrel', messageId: 7 })
    await c.next('pubcomp')
    await eventually(async () => (await received()) >= before + 2)
    await sleep(300)
    expect(await received()).toBe(before + 2)
  })

  it('a resend on a new connection while unreleased is acknowledged, not journaled; a clean session ends the receipt', async () => {
    const before = await received()
    const first = await gwA('qos2-takeover', false)
    publishQos2(first, 9, telemetry('raw.c'))
    await first.next('pubrec')
    first.destroy()
    const again = await gwA('qos2-takeover', false)
    publishQos2(again, 9, telemetry('raw.c'), true)
    expect(await again.next('pubrec')).toMatchObject({ messageId: 9 })
    expect(svc.broker.qos2Awaiting()).toBe(1)
    again.destroy()
    await again.closed
    // The gateway gives its session up: the receipt goes with Aedes' receive state, so the id is new again.
    const clean = await gwA('qos2-takeover', true)
    await eventually(() => svc.broker.qos2Awaiting() === 0)
    publishQos2(clean, 9, telemetry('raw.d'))
    await clean.next('pubrec')
    clean.send({ cmd: 'pubrel', messageId: 9 })
    await clean.next('pubcomp')
    await eventually(async () => (await received()) >= before + 2)
    await sleep(300)
    expect(await received()).toBe(before + 2)
  })
})

function generateOf(messageId: number, payload: Buffer, dup = false): Buffer {
  return generate({ cmd: 'publish', topic: T, payload, qos: 2, messageId, dup, retain: false })
}
