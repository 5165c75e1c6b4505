import type { MqttClient } from 'mqtt'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { decodeSparkplugPayload, encodeSparkplugPayload, type SpMetricInput } from '../../src/sparkplug/payload.js'
import { KEYS, SECRETS } from '../helpers/fixtures.js'
import { connectGateway } from '../helpers/gateway.js'
import { influxQuery, startTestInfluxd } from '../helpers/influxd.js'
import { apiGet, eventually, startTestService, type TestService } from '../helpers/service.js'
import { DT, sparkplugRegistry } from '../helpers/sparkplug.js'

/** Hand-built Sparkplug sequences over a plain MQTT connection: what a real client does not do on purpose. */
let influxd: Awaited<ReturnType<typeof startTestInfluxd>>
let svc: TestService
let node: MqttClient
const ncmd: string[] = []
const NODE = (type: string) => `spBv1.0/plant-a/${type}/edge-1`
const T0 = Date.now() - 600_000

async function connectNode(url: string): Promise<MqttClient> {
  const c = await connectGateway(url, 'gw-a', SECRETS.gwA)
  c.on('message', (topic, payload) => {
    if (topic === NODE('NCMD')) ncmd.push(decodeSparkplugPayload(payload).metrics.map((m) => `${m.name}=${m.booleanValue}`).join(','))
  })
  await c.subscribeAsync(NODE('NCMD'), { qos: 0 })
  return c
}
const send = (type: string, seq: number | undefined, metrics: SpMetricInput[], ts: number) => node.publishAsync(NODE(type), encodeSparkplugPayload({ timestamp: ts, ...(seq === undefined ? {} : { seq }), metrics }), { qos: 1 })
const birth = (seq: number, bdSeq: number, ts = T0) => send('NBIRTH', seq, [{ name: 'bdSeq', datatype: DT.UInt64, longValue: bdSeq }, { name: 'Temp', alias: 1, datatype: DT.Double, doubleValue: 0 }], ts)
const data = (seq: number, value: number, ts: number, alias = 1) => send('NDATA', seq, [{ alias, doubleValue: value }], ts)
const drained = () => eventually(() => svc.journal.stats().unwrittenRecords === 0)
const temps = async (from: number) => (await influxQuery(influxd.url, svc.database, `SELECT "value" FROM "telemetry" WHERE "signal"='Temp' AND time >= ${from}ms`))[0]?.values.map((v) => v[1]) ?? []
const rejections = async (reason: string) => (await apiGet(svc.httpUrl, `/api/v1/ingest/rejections?reason=${reason}`, KEYS.all)).body.rejections as any[]

beforeAll(async () => {
  influxd = await startTestInfluxd()
  svc = await startTestService(influxd.url, { registry: await sparkplugRegistry(), env: { SPARKPLUG_REORDER_WINDOW_MS: '300', SPARKPLUG_REBIRTH_MIN_INTERVAL_MS: '0', DECODE_WORKERS: '0' } })
  node = await connectNode(svc.mqttUrl)
})

afterAll(async () => {
  await node?.endAsync()
  await svc?.dispose()
  await influxd?.dispose()
})

describe('Sparkplug sequences', () => {
  it('reordering: a message after a gap waits, and both are stored once the missing one arrives', async () => {
    await birth(0, 1, T0)
    await data(2, 2, T0 + 2000)
    await data(1, 1, T0 + 1000)
    await drained()
    await eventually(async () => (await temps(T0 + 1000)).length === 2)
    expect(await temps(T0 + 1000)).toEqual([1, 2])
    expect(ncmd).toEqual([])
  })

  it('a gap never filled: after the window what waited is a rejection and the host asks for a rebirth', async () => {
    await data(5, 5, T0 + 5000)
    await eventually(() => ncmd.length === 1, 5000)
    expect(ncmd[0]).toBe('Node Control/Rebirth=true')
    const r = await eventually(async () => (await rejections('sequence_gap'))[0])
    expect(r).toMatchObject({ topic: NODE('NDATA'), gateway: 'gw-a' })
  })

  it('alias misuse: an alias the birth did not define is a rejection and a rebirth request', async () => {
    await birth(0, 2, T0 + 10_000)
    await data(1, 1, T0 + 11_000, 77)
    await eventually(() => ncmd.length === 2, 5000)
    expect((await eventually(async () => (await rejections('unknown_alias'))[0])).message).toContain('alias 77')
  })

  it('a stale NDEATH (an older bdSeq) changes nothing; data before a birth is rejected and asks for a rebirth', async () => {
    await send('NDEATH', undefined, [{ name: 'bdSeq', datatype: DT.UInt64, longValue: 1 }], T0)
    await drained()
    expect((await eventually(async () => (await rejections('stale_ndeath'))[0])).message).toContain('bdSeq 1')
    const m2 = (await apiGet(svc.httpUrl, '/api/v1/equipment/state?factory=fa', KEYS.all)).body.machines.find((m: any) => m.machine === 'm2')
    expect(m2.reason).not.toBe('sparkplug_ndeath')
    await send('NDEATH', undefined, [{ name: 'bdSeq', datatype: DT.UInt64, longValue: 2 }], T0)
    await data(2, 1, T0 + 12_000)
    await eventually(async () => (await rejections('no_birth'))[0])
    await eventually(() => ncmd.length === 3, 5000)
  })

  it('a restart of the service between birth and data: the data resolves against the persisted birth', async () => {
    await birth(0, 3, T0 + 20_000)
    await drained()
    await node.endAsync()
    await svc.close()
    // With decode workers this time: Sparkplug frames stay on the main thread, found there from the journal records' headers.
    svc = { ...svc, ...(await startTestService(influxd.url, { dir: svc.dir, database: svc.database, env: { SPARKPLUG_REORDER_WINDOW_MS: '300', DECODE_WORKERS: '2' } })) }
    node = await connectNode(svc.mqttUrl)
    await data(1, 42, T0 + 21_000)
    await drained()
    await eventually(async () => (await temps(T0 + 21_000)).length === 1)
    expect(await temps(T0 + 21_000)).toEqual([42])
  })

  it('the ACL: publishing as another edge node closes the connection; subscribing to its commands is refused', async () => {
    const other = await connectGateway(svc.mqttUrl, 'gw-a', SECRETS.gwA)
    // SUBACK 0x80: mqtt.js reports it as an error.
    await expect(other.subscribeAsync('spBv1.0/plant-a/NCMD/edge-2', { qos: 0 })).rejects.toThrow(/Subscribe error/)
    const closed = new Promise<void>((resolve) => other.once('close', () => resolve()))
    other.publish('spBv1.0/plant-a/NDATA/edge-2', encodeSparkplugPayload({ seq: 0, metrics: [] }), { qos: 1 })
    await closed
    await other.endAsync(true)
  })
})
