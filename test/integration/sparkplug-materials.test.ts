import { newClient, type UPayload } from 'sparkplug-client'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { KEYS, SECRETS } from '../helpers/fixtures.js'
import { influxQuery, startTestInfluxd } from '../helpers/influxd.js'
import { apiGet, eventually, startTestService, type TestService } from '../helpers/service.js'
import { sparkplugRegistry } from '../helpers/sparkplug.js'
import { openSseStream, type SseStream } from '../helpers/sse.js'

/**
 * Material movements from a real Sparkplug edge node (Eclipse Tahu's sparkplug-client, its own
 * DataSet encoding) through the embedded broker into a real InfluxDB, read back by the materials
 * API (docs/sparkplug.md, "Material movements"). The edge node is machine l1/m2 itself; its device
 * press-1 is l1/m1. m1 cuts supplier steel into blanks W-1, m2 assembles them with bolts into F-1.
 */
type EdgeNode = ReturnType<typeof newClient>

let influxd: Awaited<ReturnType<typeof startTestInfluxd>>
let svc: TestService
let edge: EdgeNode | undefined
let live: SseStream | undefined
let births = 0

const get = (path: string) => apiGet(svc.httpUrl, path, KEYS.all)
const drained = () => eventually(() => svc.journal.stats().unwrittenRecords === 0 && svc.drainer.lastWriteAt !== undefined)
const rejections = async (reason: string) => (await get(`/api/v1/ingest/rejections?reason=${reason}`)).body.rejections as any[]

const COLUMNS = ['movement', 'material', 'lot', 'quantity', 'unit', 'work_order', 'ts_ms']
const TYPES = ['String', 'String', 'String', 'Double', 'String', 'String', 'DateTime']
type UMetric = NonNullable<UPayload['metrics']>[number]
type Row = [string, string, string, number, string, string, number]
const movements = (rows: Row[], columns = COLUMNS, types = TYPES): UMetric =>
  ({ name: 'Material/Movements', type: 'DataSet', value: { numOfColumns: columns.length, columns, types, rows } }) as UMetric

const T = Date.now() - 60 * 60_000
const at = (minute: number) => T + minute * 60_000
/** m1 (device press-1): steel received, loaded, cut into blanks for WO-1. */
const m1Rows: Row[] = [
  ['RECEIVED', 'steel-bar', 'S-STEEL', 100, 'kg', '', at(0)],
  ['LOADED', 'steel-bar', 'S-STEEL', 100, 'kg', '', at(1)],
  ['CONSUMED', 'steel-bar', 'S-STEEL', 12.5, 'kg', 'WO-1', at(10)],
  ['PRODUCED', 'shaft-blank', 'W-1', 25, 'pcs', 'WO-1', at(11)],
]
/** m2 (the edge node itself): blanks loaded, bolts consumed without a load scan (the warning), assemblies made for WO-2. */
const m2Rows: Row[] = [
  ['RECEIVED', 'bolt', 'B-1', 500, 'pcs', '', at(12)],
  ['LOADED', 'shaft-blank', 'W-1', 25, 'pcs', '', at(13)],
  ['CONSUMED', 'shaft-blank', 'W-1', 25, 'pcs', 'WO-2', at(20)],
  ['CONSUMED', 'bolt', 'B-1', 50, 'pcs', 'WO-2', at(21)],
  ['PRODUCED', 'shaft-assy', 'F-1', 25, 'pcs', 'WO-2', at(22)],
]

function publishBirths(e: EdgeNode): void {
  births++
  // A device that has moved nothing yet is born with an empty DataSet: its columns, no rows.
  e.publishNodeBirth({ timestamp: Date.now(), metrics: [movements([]), { name: 'Node Control/Rebirth', type: 'Boolean', value: false }] })
  e.publishDeviceBirth('press-1', { timestamp: Date.now(), metrics: [movements([]), { name: 'Temp', type: 'Double', value: 20 }] })
}

beforeAll(async () => {
  influxd = await startTestInfluxd()
  svc = await startTestService(influxd.url, { registry: await sparkplugRegistry(), env: { SPARKPLUG_REBIRTH_MIN_INTERVAL_MS: '0' } })
  live = await openSseStream(svc.httpUrl, '/api/v1/stream?kinds=material', KEYS.factoryA)
  edge = newClient({ serverUrl: svc.mqttUrl, username: 'gw-a', password: SECRETS.gwA, groupId: 'plant-a', edgeNode: 'edge-1', clientId: 'edge-1', publishDeath: true, version: 'spBv1.0', mqttOptions: { reconnectPeriod: 200 } })
  edge.on('birth', () => publishBirths(edge!))
  edge.on('ncmd', (p) => {
    if (p.metrics?.some((m) => m.name === 'Node Control/Rebirth' && m.value === true)) publishBirths(edge!)
  })
  await eventually(() => births > 0)
  edge.publishDeviceData('press-1', { timestamp: Date.now(), metrics: [movements(m1Rows)] })
  edge.publishNodeData({ timestamp: Date.now(), metrics: [movements(m2Rows)] })
  await drained()
}, 60_000)

afterAll(async () => {
  await live?.close()
  edge?.stop()
  await svc?.dispose()
  await influxd?.dispose()
})

/** A trace as nested lots: a leaf is its lot, an inner node { lot: children }. */
const shape = (n: any): unknown => (n.children.length === 0 ? n.lot : { [n.lot]: n.children.map(shape) })

describe('material movements from a Sparkplug edge node (Tahu DataSets)', () => {
  it('stores every row as a movement of its machine in measurement material, with the consumed-before-loaded warning', async () => {
    const rows = await eventually(async () => {
      const r = await influxQuery(influxd.url, svc.database, 'SELECT "lot", "quantity", "work_order", "warning" FROM "material" GROUP BY "machine", "movement"')
      return r.reduce((n: number, s: any) => n + s.values.length, 0) === m1Rows.length + m2Rows.length ? r : undefined
    })
    const byKey = Object.fromEntries(rows.map((s: any) => [`${s.tags.machine}/${s.tags.movement}`, s.values.map((v: any) => v.slice(1))]))
    expect(byKey['m1/produced']).toEqual([['W-1', 25, 'WO-1', null]])
    expect(byKey['m2/consumed']).toEqual([['W-1', 25, 'WO-2', null], ['B-1', 50, 'WO-2', 'consumed_before_loaded']])
    const metrics = await (await fetch(`${svc.httpUrl}/metrics`)).text()
    expect(metrics).toContain('iiot_material_warnings_total{warning="consumed_before_loaded"} 1')
    expect(await rejections('bad_dataset')).toEqual([])
  })

  it('GET /api/v1/materials/lots/F-1/trace?direction=back gives the tree through both machines', async () => {
    const { status, body } = await get('/api/v1/materials/lots/F-1/trace?direction=back&depth=5&factory=fa')
    expect(status).toBe(200)
    expect(body).toMatchObject({ found: true, lots: 4, cycles: [], truncated: false })
    expect(shape(body.tree)).toEqual({ 'F-1': [{ 'W-1': ['S-STEEL'] }, 'B-1'] })
    expect(body.tree.origins).toEqual([expect.objectContaining({ movement: 'produced', line: 'l1', machine: 'm2', workOrder: 'WO-2', quantity: 25, unit: 'pcs', start: new Date(at(22)).toISOString() })])
    const w1 = body.tree.children.find((c: any) => c.lot === 'W-1')
    expect(w1.origins).toEqual([expect.objectContaining({ machine: 'm1', workOrder: 'WO-1', quantity: 25 })])
    expect(w1.link).toMatchObject({ machine: 'm2', workOrder: 'WO-2', quantity: 25, unit: 'pcs' })
    expect(w1.children[0]).toMatchObject({ lot: 'S-STEEL', origins: [{ movement: 'received', machine: 'm1', quantity: 100, unit: 'kg' }], link: { machine: 'm1', workOrder: 'WO-1', quantity: 12.5, unit: 'kg' } })
  })

  it('sends each DataSet to the live stream as a material event of its machine', async () => {
    await eventually(() => live!.events.length >= 2)
    const m1 = live!.events.find((e) => e.data.machine === 'm1')!
    expect(m1.event).toBe('material')
    expect(m1.data).toMatchObject({ factory: 'fa', line: 'l1', machine: 'm1', kind: 'material', gateway: 'gw-a' })
    expect(m1.data.message.movements.map((m: any) => [m.movement, m.lot, m.workOrder])).toEqual([['received', 'S-STEEL', null], ['loaded', 'S-STEEL', null], ['consumed', 'S-STEEL', 'WO-1'], ['produced', 'W-1', 'WO-1']])
  })

  it('rejects a malformed DataSet and a row with an unknown unit with their reasons; the message\'s other metrics are stored', async () => {
    const noLot = movements([['CONSUMED', 'bolt', 4, 'pcs', 'WO-3', at(30)] as never], ['movement', 'material', 'quantity', 'unit', 'work_order', 'ts_ms'], ['String', 'String', 'Double', 'String', 'String', 'DateTime'])
    edge!.publishDeviceData('press-1', { timestamp: Date.now(), metrics: [noLot, { name: 'Temp', type: 'Double', value: 31.5 }] })
    edge!.publishDeviceData('press-1', { timestamp: Date.now(), metrics: [movements([['CONSUMED', 'bolt', 'B-1', 4, 'furlong', 'WO-3', at(31)]])] })
    await drained()
    const bad = await eventually(async () => (await rejections('bad_dataset'))[0])
    expect(bad).toMatchObject({ topic: 'spBv1.0/plant-a/DDATA/edge-1/press-1', gateway: 'gw-a', factory: 'fa' })
    expect(bad.message).toContain('DataSet "Material/Movements": no column "lot"')
    const unit = await eventually(async () => (await rejections('unknown_unit'))[0])
    expect(unit.message).toContain('row 0, column "unit": unit "furlong" is not one of')
    const metrics = await (await fetch(`${svc.httpUrl}/metrics`)).text()
    expect(metrics).toMatch(/iiot_messages_rejected_total\{reason="bad_dataset"\} 1/)
    const temp = await eventually(async () => ((await get('/api/v1/telemetry/latest?factory=fa&signal=Temp&lookback=1h')).body.values?.[0]?.value === 31.5 ? true : undefined))
    expect(temp).toBe(true)
    const stored = await influxQuery(influxd.url, svc.database, `SELECT count("quantity") FROM "material" WHERE "work_order" = 'WO-3'`)
    expect(stored).toEqual([])
  })
})
