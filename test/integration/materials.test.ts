import type { MqttClient } from 'mqtt'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { KEYS, SECRETS } from '../helpers/fixtures.js'
import { connectGateway, encode, publish } from '../helpers/gateway.js'
import { influxQuery, startTestInfluxd } from '../helpers/influxd.js'
import { materialRegistry, materialWeek, materialWeekInspections, MV } from '../helpers/material-week.js'
import { apiGet, eventually, startTestService, type TestService } from '../helpers/service.js'
import { openSseStream } from '../helpers/sse.js'
import { ensureConsoleBuilt, launchBrowser, openConsole, screenshot } from '../helpers/browser.js'

/** The hand-built week of test/helpers/material-week.ts, through real MQTT into a real InfluxDB, read back by the materials API. */
let influxd: Awaited<ReturnType<typeof startTestInfluxd>>
let svc: TestService
let gw: MqttClient
const DAY = 86_400_000
const day0 = Math.floor(Date.now() / DAY) * DAY - 7 * DAY
const start = new Date(day0 - DAY).toISOString()
const window = `start=${start}&end=${new Date(Date.now() + 60_000).toISOString()}`

beforeAll(async () => {
  influxd = await startTestInfluxd()
  svc = await startTestService(influxd.url, { registry: await materialRegistry() })
  gw = await connectGateway(svc.mqttUrl, 'gw-a', SECRETS.gwA)
  let seq = 0
  for (const m of materialWeek(day0)) await publish(gw, m.topic, encode('material', { seq: ++seq, sentTsMs: Date.now(), movements: m.movements }))
  for (const q of materialWeekInspections(day0)) await publish(gw, q.topic, encode('quality', { seq: ++seq, sentTsMs: Date.now(), inspections: q.inspections }))
  // l1/m2 during WO-A2 (day 3, 08:00-12:00): running, a jam from 09:00 to 10:00, running again.
  const h = (hour: number) => day0 + 3 * DAY + hour * 3_600_000
  await publish(gw, 'iiot/v1/za/fa/l1/m2/state', encode('state', { seq: ++seq, sentTsMs: Date.now(), changes: [{ state: 1, tsMs: h(7) }, { state: 6, reasonCode: 'jam', alarmCodes: ['A7'], tsMs: h(9) }, { state: 1, tsMs: h(10) }] }))
  await eventually(() => svc.journal.stats().unwrittenRecords === 0, 20_000)
}, 60_000)

afterAll(async () => {
  await gw?.endAsync()
  await svc?.dispose()
  await influxd?.dispose()
})

const get = (path: string, key: string = KEYS.all) => apiGet(svc.httpUrl, path, key)
/** A trace as nested lots: a leaf is its lot ("*" marks a cycle), an inner node { lot: children }. */
const shape = (n: any): unknown => (n.cycle ? `${n.lot}*` : n.children.length === 0 ? n.lot : { [n.lot]: n.children.map(shape) })
const find = (n: any, lot: string): any => (n.lot === lot ? n : n.children.map((c: any) => find(c, lot)).find(Boolean))

describe('materials and traceability over a hand-built week', () => {
  it('stores every movement with lots and work orders as fields, and the consumed-before-loaded warnings', async () => {
    const tags = await influxQuery(influxd.url, svc.database, 'SHOW TAG KEYS FROM "material"')
    expect(tags[0]!.values.flat().sort()).toEqual(['factory', 'line', 'machine', 'movement', 'zone'])
    const count = await influxQuery(influxd.url, svc.database, 'SELECT count("quantity") FROM "material"')
    expect(count[0]!.values[0]![1]).toBe(materialWeek(day0).reduce((n, m) => n + m.movements.length, 0))
    const warned = await influxQuery(influxd.url, svc.database, `SELECT "lot", "warning" FROM "material" WHERE "warning" = 'consumed_before_loaded' GROUP BY "machine"`)
    expect(warned.map((s: any) => [s.tags.machine, s.values.map((v: any) => v[1])])).toEqual([['m3', ['Q-1']], ['m4', ['S-BOLT-1']]])
    const metrics = await (await fetch(`${svc.httpUrl}/metrics`)).text()
    expect(metrics).toContain('iiot_material_warnings_total{warning="consumed_before_loaded"} 2')
  })

  it('traces a finished lot back to its supplier lots with quantities, machines and time spans', async () => {
    const { status, body } = await get(`/api/v1/materials/lots/F-2/trace?direction=back&depth=5&${window}`)
    expect(status).toBe(200)
    expect(shape(body.tree)).toEqual({ 'F-2': [{ 'W-2': ['S-STEEL-2'] }, 'S-BOLT-1'] })
    expect(body).toMatchObject({ found: true, cycles: [], truncated: false, lots: 4 })
    const at = (d: number, h: number, m = 0) => new Date(day0 + d * DAY + h * 3_600_000 + m * 60_000).toISOString()
    expect(body.tree.origins).toEqual([{ movement: 'produced', zone: 'za', factory: 'fa', line: 'l1', machine: 'm2', workOrder: 'WO-A2', quantity: 15, unit: 'pcs', start: at(3, 12), end: at(3, 12) }])
    const w2 = find(body.tree, 'W-2')
    expect(w2.link).toEqual({ zone: 'za', factory: 'fa', line: 'l1', machine: 'm2', workOrder: 'WO-A2', consumedLot: 'W-2', quantity: 15, unit: 'pcs', start: at(3, 8), end: at(3, 8) })
    expect(w2.origins[0]).toMatchObject({ machine: 'm1', workOrder: 'WO-C2', quantity: 15 })
    const steel = find(body.tree, 'S-STEEL-2')
    expect(steel.link).toMatchObject({ machine: 'm1', workOrder: 'WO-C2', quantity: 30, unit: 'kg' })
    expect(steel.origins).toEqual([expect.objectContaining({ movement: 'received', machine: 'm1', quantity: 100, unit: 'kg', workOrder: null })])
    expect(steel.quality).toEqual({ inspections: 2, passed: 0, failed: 2, passRate: 0, defects: [{ code: 'soft', count: 2 }] })
    expect(body.tree.quality).toEqual({ inspections: 2, passed: 1, failed: 1, passRate: 0.5, defects: [{ code: 'low-torque', count: 1 }] })

    const f1 = await get(`/api/v1/materials/lots/F-1/trace?depth=5&${window}`)
    expect(shape(f1.body.tree)).toEqual({ 'F-1': [{ 'W-1': ['S-STEEL-1'] }, 'S-BOLT-1'] })
    expect(find(f1.body.tree, 'S-STEEL-1').link).toMatchObject({ quantity: 40, start: at(0, 8), end: at(0, 9) })
    // S-STEEL-2 went into line 2, but was received on line 1: found in the factory once the line has no origin for it.
    const f3 = await get(`/api/v1/materials/lots/F-3/trace?depth=5&${window}`)
    expect(shape(f3.body.tree)).toEqual({ 'F-3': [{ 'W-3': ['S-STEEL-2'] }, 'S-BOLT-1'] })
    // W-3's origin counts all its production, also the blank made after m4 began consuming it.
    expect(find(f3.body.tree, 'W-3').origins).toEqual([expect.objectContaining({ line: 'l2', machine: 'm3', workOrder: 'WO-C3', quantity: 11, start: at(4, 10), end: at(5, 9) })])
    expect(find(f3.body.tree, 'S-STEEL-2').origins).toEqual([expect.objectContaining({ movement: 'received', line: 'l1', machine: 'm1' })])
    expect(find(f3.body.tree, 'S-BOLT-1').origins).toEqual([expect.objectContaining({ movement: 'received', line: 'l1', machine: 'm2' })])
    const shallow = await get(`/api/v1/materials/lots/F-1/trace?depth=1&${window}`)
    expect(shallow.body.tree.origins[0].machineStates).toBeUndefined()
    // What the machine was doing while it made the lot: its work order's span, first consumption to production.
    const withStates = await get(`/api/v1/materials/lots/F-2/trace?depth=1&states=true&${window}`)
    expect(withStates.body.tree.origins[0].machineStates).toEqual([
      { state: 'running', reason: null, start: at(3, 8), end: at(3, 9), durationS: 3600 },
      { state: 'fault', reason: 'jam', start: at(3, 9), end: at(3, 10), durationS: 3600 },
      { state: 'running', reason: null, start: at(3, 10), end: at(3, 12), durationS: 7200 },
    ])
    expect(shape(shallow.body.tree)).toEqual({ 'F-1': ['W-1', 'S-BOLT-1'] })
  })

  it('finds the bad supplier lot in every finished lot that contains it, on both lines, with their inspections', async () => {
    const { body } = await get(`/api/v1/materials/lots/S-STEEL-2/trace?direction=forward&depth=5&${window}`)
    expect(shape(body.tree)).toEqual({ 'S-STEEL-2': [{ 'W-2': ['F-2'] }, { 'W-3': ['F-3'] }] })
    const f3 = find(body.tree, 'F-3')
    expect(f3.origins[0]).toMatchObject({ line: 'l2', machine: 'm4', workOrder: 'WO-A3', quantity: 10 })
    expect(f3.quality).toMatchObject({ inspections: 1, failed: 1, defects: [{ code: 'low-torque', count: 1 }] })
    expect(find(body.tree, 'W-3').link).toMatchObject({ line: 'l2', machine: 'm3', consumedLot: 'S-STEEL-2', quantity: 22 })
    const good = await get(`/api/v1/materials/lots/S-STEEL-1/trace?direction=forward&${window}`)
    expect(shape(good.body.tree)).toEqual({ 'S-STEEL-1': [{ 'W-1': ['F-1'] }] })
  })

  it('reports a cycle in the data once, and does not loop', async () => {
    const { body } = await get(`/api/v1/materials/lots/Q-1/trace?direction=back&depth=20&${window}`)
    expect(shape(body.tree)).toEqual({ 'Q-1': [{ 'Q-2': ['Q-1*'] }] })
    expect(body.cycles).toEqual([['Q-1', 'Q-2', 'Q-1']])
    const fwd = await get(`/api/v1/materials/lots/Q-2/trace?direction=forward&depth=20&${window}`)
    expect(fwd.body.cycles).toEqual([['Q-2', 'Q-1', 'Q-2']])
  })

  it('gives consumption per work order against the bill of materials', async () => {
    const { body } = await get(`/api/v1/materials/consumption?factory=fa&${window}`)
    const byOrder = Object.fromEntries(body.workOrders.map((o: any) => [o.workOrder, o]))
    expect(Object.keys(byOrder).sort()).toEqual(['WO-A1', 'WO-A2', 'WO-A3', 'WO-C1', 'WO-C2', 'WO-C3', 'WO-Z1', 'WO-Z2'])
    expect(byOrder['WO-A2']).toMatchObject({ product: 'shaft-assy', produced: 15, producedUnit: 'pcs', bom: true, machines: [{ zone: 'za', factory: 'fa', line: 'l1', machine: 'm2' }] })
    expect(byOrder['WO-A2'].materials).toEqual([
      { material: 'bolt', unit: 'pcs', consumed: 33, expected: 30, variance: 3, variancePct: 10 },
      { material: 'shaft-blank', unit: 'pcs', consumed: 15, expected: 15, variance: 0, variancePct: 0 },
    ])
    expect(byOrder['WO-C3'].materials).toEqual([{ material: 'steel', unit: 'kg', consumed: 22, expected: 22, variance: 0, variancePct: 0 }])
    expect(byOrder['WO-C3']).toMatchObject({ produced: 11, machines: [{ line: 'l2', machine: 'm3' }] })
    expect(byOrder['WO-Z1'].materials).toEqual([
      { material: 'bolt', unit: 'pcs', consumed: 0, expected: 2, variance: -2, variancePct: -100 },
      { material: 'shaft-blank', unit: 'pcs', consumed: 1, expected: 1, variance: 0, variancePct: 0 },
    ])
    expect(body.materials).toEqual([
      { material: 'bolt', unit: 'pcs', consumed: 93 },
      { material: 'shaft-assy', unit: 'pcs', consumed: 1 },
      { material: 'shaft-blank', unit: 'pcs', consumed: 46 },
      { material: 'steel', unit: 'kg', consumed: 92 },
    ])
    const one = await get(`/api/v1/materials/consumption?factory=fa&line=l1&workOrder=WO-C1&${window}`)
    expect(one.body.workOrders.map((o: any) => [o.workOrder, o.materials])).toEqual([['WO-C1', [{ material: 'steel', unit: 'kg', consumed: 40, expected: 40, variance: 0, variancePct: 0 }]]])
  })

  it('says what is loaded at each machine now', async () => {
    const { body } = await get('/api/v1/materials/loaded?factory=fa&lookback=9d')
    expect(body.machines.map((m: any) => [m.line, m.machine, m.lots.map((l: any) => [l.lot, l.material, l.remaining, l.unit])])).toEqual([
      ['l1', 'm1', [['S-STEEL-2', 'steel', 20, 'kg']]],
      ['l1', 'm2', [['S-BOLT-1', 'bolt', 425, 'pcs']]],
    ])
  })

  it('answers text that looks like InfluxQL as data (bound parameters)', async () => {
    const sneaky = encodeURIComponent(`WO-A2' OR "work_order" =~ /.*/ OR 'x'='x`)
    const { status, body } = await get(`/api/v1/materials/consumption?factory=fa&workOrder=${sneaky}&${window}`)
    expect(status).toBe(200)
    expect(body.workOrders).toEqual([])
  })

  it('a lot id found in two factories is two lots: the trace asks which, and traces each alone', async () => {
    const other = await connectGateway(svc.mqttUrl, 'gw-b', SECRETS.gwB)
    const t = day0 + DAY
    const received = (lot: string) => ({ movement: MV.received, material: 'steel', lot, quantity: 5, unit: 'kg', workOrder: '', tsMs: t })
    await publish(gw, 'iiot/v1/za/fa/l1/m1/material', encode('material', { seq: 9001, sentTsMs: Date.now(), movements: [received('TWIN-1')] }))
    await publish(other, 'iiot/v1/zb/fb/l1/m1/material', encode('material', { seq: 1, sentTsMs: Date.now(), movements: [received('TWIN-1')] }))
    await other.endAsync()
    await eventually(() => svc.journal.stats().unwrittenRecords === 0, 20_000)
    const both = await eventually(async () => {
      const r = await get(`/api/v1/materials/lots/TWIN-1/trace?direction=forward&${window}`)
      return r.status === 400 ? r : undefined
    })
    expect(JSON.stringify(both.body)).toMatch(/factory.*za\/fa, zb\/fb/)
    const one = await get(`/api/v1/materials/lots/TWIN-1/trace?direction=forward&factory=fb&${window}`)
    expect(one.status).toBe(200)
    expect(one.body.tree.origins.map((o: { factory: string }) => o.factory)).toEqual(['fb'])
  })

  it('applies API key scopes', async () => {
    const other = await get(`/api/v1/materials/lots/F-2/trace?${window}`, KEYS.zone)
    expect(other.status).toBe(200)
    expect(other.body).toMatchObject({ found: false, lots: 1, tree: { lot: 'F-2', origins: [], children: [] } })
    expect((await get(`/api/v1/materials/lots/F-2/trace?factory=fa&${window}`, KEYS.zone)).status).toBe(403)
    expect((await get('/api/v1/materials/consumption?factory=fa', KEYS.zone)).status).toBe(403)
    expect((await get(`/api/v1/materials/lots/F-2/trace?${window}`, KEYS.factoryA)).body.found).toBe(true)
    expect((await get('/api/v1/materials/lots/bad%20lot/trace', KEYS.all)).status).toBe(400)
  })

  it('carries material events on the live stream, in scope', async () => {
    const mine = await openSseStream(svc.httpUrl, '/api/v1/stream?kinds=material', KEYS.factoryA)
    const other = await openSseStream(svc.httpUrl, '/api/v1/stream?kinds=material', KEYS.zone)
    try {
      const tsMs = Date.now()
      await publish(gw, 'iiot/v1/za/fa/l1/m1/material', encode('material', { seq: 99, sentTsMs: tsMs, movements: [{ movement: 2, material: 'steel', lot: 'S-LIVE', quantity: 5, unit: 'kg', tsMs }] }))
      await eventually(() => mine.events.length >= 1)
      expect(mine.events[0]!.event).toBe('material')
      expect(mine.events[0]!.data).toMatchObject({ factory: 'fa', line: 'l1', machine: 'm1', kind: 'material', message: { seq: 99, movements: [{ movement: 'loaded', material: 'steel', lot: 'S-LIVE', quantity: 5, unit: 'kg', workOrder: null, tsMs }] } })
      await new Promise((r) => setTimeout(r, 200))
      expect(other.events).toEqual([])
    } finally {
      await mine.close()
      await other.close()
    }
  })

  it('shows a trace in the console: the bad supplier lot forward to both finished lots, with their failed inspections', async () => {
    await ensureConsoleBuilt()
    const browser = await launchBrowser()
    try {
      const { page, errors } = await openConsole(browser, svc.httpUrl, KEYS.factoryA, '#/trace?factory=fa&lot=S-STEEL-2&direction=forward&depth=5')
      await page.waitForSelector('#trace li[data-lot="F-3"]', { timeout: 30_000 })
      const lots = await page.$$eval('#trace li', (els) => els.map((e) => e.getAttribute('data-lot')))
      expect(lots).toEqual(['S-STEEL-2', 'W-2', 'F-2', 'W-3', 'F-3'])
      expect(await page.$eval('#trace li[data-lot="F-3"]', (e) => e.className)).toBe('failed')
      expect(await page.textContent('#trace li[data-lot="F-3"]')).toContain('1 inspection(s): 0 passed, 1 failed')
      await screenshot(page, 'console-trace')
      await page.goto(`${svc.httpUrl}/console/#/trace?factory=fa&lot=Q-1&depth=5`)
      await page.waitForSelector('#cycles', { timeout: 30_000 })
      expect(await page.textContent('#cycles')).toContain('Q-1 → Q-2 → Q-1')
      expect(errors).toEqual([])
    } finally {
      await browser.close()
    }
  }, 120_000)
})
