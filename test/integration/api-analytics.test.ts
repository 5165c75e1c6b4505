import type { MqttClient } from 'mqtt'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { spcIndividuals } from '../../src/domain/spc.js'
import { FAST, KEYS, SECRETS, hashSecret, testRegistry } from '../helpers/fixtures.js'
import { connectGateway, encode, publish } from '../helpers/gateway.js'
import { startTestInfluxd } from '../helpers/influxd.js'
import { eventually, startTestService, type TestService, apiGet } from '../helpers/service.js'

// Hand-computed answers for datasets published through MQTT.
let influxd: Awaited<ReturnType<typeof startTestInfluxd>>
let svc: TestService
let gwN: MqttClient
let gwA: MqttClient
let gwB: MqttClient

const H = 3_600_000
const S = 1000
// Day D, three days ago (UTC midnight). The night shift of D runs 22:00 D to 06:00 D+1 in
// Asia/Ho_Chi_Minh (UTC+7), i.e. 15:00 to 23:00 UTC on D.
const D = Math.floor(Date.now() / (24 * H)) * 24 * H - 3 * 24 * H
const SHIFT_START = D + 15 * H
const SHIFT_END = D + 23 * H

beforeAll(async () => {
  influxd = await startTestInfluxd()
  const registry = (await testRegistry()) as { zones: any[]; gateways: any[] }
  registry.zones[0].factories.push({
    id: 'fn',
    timezone: 'Asia/Ho_Chi_Minh',
    shifts: [{ name: 'night', start: '22:00', end: '06:00' }],
    lines: [{ id: 'l1', machines: [{ id: 'm1', idealCycleTimeS: 10 }, { id: 'm2', idealCycleTimeS: 12 }] }],
  })
  registry.gateways.push({ id: 'gw-n', factory: 'fn', secretHash: await hashSecret('night-secret-0123456789', FAST) })
  svc = await startTestService(influxd.url, { registry })
  gwN = await connectGateway(svc.mqttUrl, 'gw-n', 'night-secret-0123456789')
  gwA = await connectGateway(svc.mqttUrl, 'gw-a', SECRETS.gwA)
  gwB = await connectGateway(svc.mqttUrl, 'gw-b', SECRETS.gwB)

  const state = (topic: string, changes: object[]) => publish(gwN, topic, encode('state', { seq: 1, changes }))
  // m1: running from before the shift; a planned break 18:00-18:30 UTC; a fault 20:00-20:20 UTC.
  await state('iiot/v1/za/fn/l1/m1/state', [
    { state: 1, tsMs: D + 14 * H },
    { state: 4, reasonCode: 'break', tsMs: D + 18 * H },
    { state: 1, tsMs: D + 18 * H + 1800 * S },
    { state: 6, reasonCode: 'jam', alarmCodes: ['E7'], tsMs: D + 20 * H },
    { state: 1, tsMs: D + 20 * H + 1200 * S },
  ])
  // m2: running all along.
  await state('iiot/v1/za/fn/l1/m2/state', [{ state: 1, tsMs: D + 13 * H }])
  const prod = (topic: string, reports: object[]) => publish(gwN, topic, encode('production', { seq: 1, reports }))
  await prod('iiot/v1/za/fn/l1/m1/production', [
    { mode: 1, good: 1000, reject: 20, tsMs: D + 16 * H },
    { mode: 1, good: 1000, reject: 20, tsMs: D + 22 * H },
    { mode: 1, good: 500, reject: 0, tsMs: D + 23 * H + 1800 * S }, // after the shift: not counted
  ])
  // m2 reports monotonic counters with a reset: 0 (first seen), +1500, then a reset to 500 (+500).
  await prod('iiot/v1/za/fn/l1/m2/production', [
    { mode: 2, good: 7000, reject: 0, tsMs: D + 15 * H + 60 * S },
    { mode: 2, good: 8500, reject: 0, tsMs: D + 19 * H },
    { mode: 2, good: 500, reject: 0, tsMs: D + 21 * H },
  ])
  await eventually(() => svc.journal.stats().unwrittenRecords === 0)
})

afterAll(async () => {
  for (const c of [gwN, gwA, gwB]) await c?.endAsync()
  await svc?.dispose()
  await influxd?.dispose()
})

const get = (path: string, key: string = KEYS.all) => apiGet(svc.httpUrl, path, key)
const iso = (ms: number) => new Date(ms).toISOString()

describe('state timeline and downtime', () => {
  it('starts a window in the middle of a stop, exact to the second', async () => {
    const { status, body } = await get(`/api/v1/equipment/timeline?factory=fn&line=l1&machine=m1&start=${iso(D + 18 * H + 600 * S)}&end=${iso(D + 20 * H + 1800 * S)}`)
    expect(status).toBe(200)
    expect(body.intervals.map((i: any) => [i.state, i.reason, i.start, i.durationS])).toEqual([
      ['planned_stop', 'break', iso(D + 18 * H + 600 * S), 1200],
      ['running', null, iso(D + 18 * H + 1800 * S), 5400],
      ['fault', 'jam', iso(D + 20 * H), 1200],
      ['running', null, iso(D + 20 * H + 1200 * S), 600],
    ])
    expect(body.timeInStateS).toMatchObject({ running: 6000, planned_stop: 1200, fault: 1200 })
  })

  it('ranks downtime by reason over the line, planned apart from unplanned', async () => {
    const { body } = await get(`/api/v1/equipment/downtime?factory=fn&line=l1&start=${iso(SHIFT_START)}&end=${iso(SHIFT_END)}`)
    expect(body.totalDownS).toBe(3000)
    expect(body.plannedS).toBe(1800)
    expect(body.unplannedS).toBe(1200)
    expect(body.reasons.map((r: any) => [r.reason, r.durationS, r.count])).toEqual([
      ['break', 1800, 1],
      ['jam', 1200, 1],
    ])
    expect(body.reasons[0].share).toBeCloseTo(0.6, 12)
    expect(body.reasons[1].cumulativeShare).toBe(1)
  })
})

describe('OEE', () => {
  const path = (extra: string) => `/api/v1/production/oee?factory=fn&line=l1&start=${iso(D + 12 * H)}&end=${iso(D + 26 * H)}${extra}`

  it('computes a machine\'s OEE for a night shift crossing midnight in Asia/Ho_Chi_Minh, with its inputs', async () => {
    const { status, body } = await get(path('&machine=m1&by=shift'))
    expect(status).toBe(200)
    expect(body.shifts).toHaveLength(1)
    const s = body.shifts[0]
    expect([s.name, s.start, s.end]).toEqual(['night', iso(SHIFT_START), iso(SHIFT_END)])
    // planned 8 h = 28800 s; planned stop 1800 s; run = 28800 - 1800 - 1200 = 25800 s;
    // counts inside the shift: 2000 good + 40 reject; ideal output = 10 s x 2040 = 20400 s.
    expect(s.oee).toMatchObject({ plannedTimeMs: 28_800_000, plannedStopMs: 1_800_000, plannedProductionTimeMs: 27_000_000, runTimeMs: 25_800_000, unplannedDowntimeMs: 1_200_000, totalCount: 2040, goodCount: 2000, rejectCount: 40, idealCycleTimeS: 10 })
    expect(s.oee.availability).toBeCloseTo(25800 / 27000, 12)
    expect(s.oee.performance).toBeCloseTo(20400 / 25800, 12)
    expect(s.oee.quality).toBeCloseTo(2000 / 2040, 12)
    expect(s.oee.oee).toBeCloseTo(20000 / 27000, 12)
    // The whole window holds exactly this one shift.
    expect(body.oee.oee).toBeCloseTo(20000 / 27000, 12)
  })

  it('rolls a line up from its machines by summing inputs, with counter resets handled', async () => {
    const { body } = await get(path(''))
    const m2 = body.oee.machines.find((m: any) => m.machine === 'm2')
    // m2: counters 7000 (first seen: 0), 8500 (+1500), 500 after a reset (+500) = 2000 good.
    expect(m2).toMatchObject({ goodCount: 2000, runTimeMs: 28_800_000, availability: 1 })
    expect(m2.performance).toBeCloseTo((12 * 2000) / 28800, 12)
    // Line: planned production 27000 + 28800 s, run 25800 + 28800 s, ideal output 20400 + 24000 s, good 4000 of 4040.
    expect(body.oee).toMatchObject({ plannedProductionTimeMs: 55_800_000, runTimeMs: 54_600_000, idealOutputTimeMs: 44_400_000, goodCount: 4000, totalCount: 4040 })
    expect(body.oee.availability).toBeCloseTo(54600 / 55800, 12)
    expect(body.oee.performance).toBeCloseTo(44400 / 54600, 12)
    expect(body.oee.oee).toBeCloseTo((44400 / 55800) * (4000 / 4040), 12)
  })

  it('counts across the reset in production counts too', async () => {
    const { body } = await get(`/api/v1/production/counts?factory=fn&line=l1&machine=m2&start=${iso(SHIFT_START)}&end=${iso(SHIFT_END)}&interval=8h`)
    expect(body.totals.good).toBe(2000)
  })
})

describe('SPC', () => {
  it('returns the I-MR limits and Cp/Cpk computed by hand, and the rule violations', async () => {
    const t = Date.now() - 3600 * S
    const values = [10, 12, 11, 13, 10, 12]
    await publish(gwA, 'iiot/v1/za/fa/l1/m1/quality', encode('quality', { seq: 1, inspections: values.map((v, i) => ({ characteristic: 'bore.diameter', value: v, lsl: 5, usl: 17, target: 11, tsMs: t + i * 1000 })) }))
    const { body } = await eventually(async () => {
      const r = await get(`/api/v1/quality/spc?factory=fa&line=l1&machine=m1&characteristic=bore.diameter&start=${iso(t - 1000)}`)
      return r.body?.n === 6 ? r : undefined
    })
    // mean 68/6; moving ranges 2,1,2,3,2: MR-bar 2; sigma 2/1.128.
    const mean = 68 / 6
    const sigma = 2 / 1.128
    expect(body.mean).toBeCloseTo(mean, 12)
    expect(body.sigmaWithin).toBeCloseTo(sigma, 12)
    expect(body.ucl).toBeCloseTo(mean + 3 * sigma, 12)
    expect(body.lcl).toBeCloseTo(mean - 3 * sigma, 12)
    expect(body.cp).toBeCloseTo(12 / (6 * sigma), 12)
    expect(body.cpk).toBeCloseTo((17 - mean) / (3 * sigma), 12)
    expect(body.spec).toEqual({ lsl: 5, usl: 17, target: 11 })
    expect(body.violations).toEqual([])
  })

  it('flags Western Electric rules at the same points as the domain function', async () => {
    const t = Date.now() - 1800 * S
    // In control around 50, then one wild point (rule 1), then a run of 9 above the centre (rule 4).
    const values = [50, 51, 49, 50, 52, 48, 50, 51, 49, 50, 70, 50, 53, 53, 52, 53, 54, 53, 52, 53, 54]
    await publish(gwA, 'iiot/v1/za/fa/l1/m2/quality', encode('quality', { seq: 1, inspections: values.map((v, i) => ({ characteristic: 'shaft.length', value: v, tsMs: t + i * 1000 })) }))
    const { body } = await eventually(async () => {
      const r = await get(`/api/v1/quality/spc?factory=fa&line=l1&machine=m2&characteristic=shaft.length&start=${iso(t - 1000)}`)
      return r.body?.n === values.length ? r : undefined
    })
    const expected = spcIndividuals(values.map((v, i) => ({ tsMs: t + i * 1000, value: v })))
    expect(body.violations.map((v: any) => [v.rule, v.index])).toEqual(expected.violations.map((v) => [v.rule, v.index]))
    expect(body.violations.some((v: any) => v.rule === 1 && v.value === 70)).toBe(true)
    expect(body.violations.some((v: any) => v.rule === 4)).toBe(true)
  })
})

describe('connectivity report', () => {
  it('counts factories and gateways by radio access, gives percentiles, and flags zones without 5G', async () => {
    const t = Date.now() - 600 * S
    await publish(gwA, 'iiot/v1/za/fa/_gateway/gw-a/connectivity', encode('connectivity', { seq: 1, reports: [-80, -90, -100].map((rsrp, i) => ({ access: 1, rsrpDbm: rsrp, sinrDb: 20 + i, rttMs: 8, tsMs: t + i * 1000 })) }))
    await publish(gwB, 'iiot/v1/zb/fb/_gateway/gw-b/connectivity', encode('connectivity', { seq: 1, reports: [{ access: 3, rsrpDbm: -105, tsMs: t }] }))
    const { body } = await eventually(async () => {
      const r = await get(`/api/v1/connectivity/report?start=${iso(t - 1000)}`)
      return r.body?.zones?.every((z: any) => z.gatewaysReporting === 1) ? r : undefined
    })
    const za = body.zones.find((z: any) => z.zone === 'za')
    expect(za).toMatchObject({ factoriesRegistered: 2, factoriesReporting: 1, factoriesOn5g: 1, no5g: false })
    expect(za.byAccess['5g-sa']).toEqual({ factories: 1, gateways: 1 })
    expect(za.links[0]).toMatchObject({ factory: 'fa', gateway: 'gw-a', access: '5g-sa', reports: 3 })
    expect(za.links[0].metrics.rsrp_dbm).toMatchObject({ p50: -90, p95: -80 })
    expect(body.zonesWithout5g).toEqual(['zb'])
    const csv = await get(`/api/v1/connectivity/report?start=${iso(t - 1000)}&format=csv`)
    expect(csv.text.split('\n')[0]).toMatch(/^zone,factory,gateway,access,reports,rsrp_dbm_p5,rsrp_dbm_p50/)
    expect(csv.text).toContain('za,fa,gw-a,5g-sa,3,')
    const scoped = await get(`/api/v1/connectivity/report?start=${iso(t - 1000)}`, KEYS.factoryA)
    expect(scoped.body.zones.map((z: any) => z.zone)).toEqual(['za'])
    expect(scoped.body.zones[0].links.map((l: any) => l.factory)).toEqual(['fa'])
  })
})

describe('a factory-scoped key sees nothing of another factory', () => {
  it.each([
    '/api/v1/hierarchy?factory=fn',
    '/api/v1/equipment/state?factory=fn',
    '/api/v1/equipment/alarms?factory=fn',
    '/api/v1/equipment/timeline?factory=fn&line=l1&machine=m1',
    '/api/v1/equipment/downtime?factory=fn',
    '/api/v1/production/counts?factory=fn',
    '/api/v1/production/oee?factory=fn&line=l1',
    '/api/v1/quality/inspections?factory=fn',
    '/api/v1/quality/spc?factory=fn&characteristic=x',
    '/api/v1/connectivity/report?factory=fn',
    '/api/v1/telemetry/series-multi?factory=fn&line=l1&machine=m1&signals=a,b',
    '/api/v1/stream?factory=fn',
  ])('%s -> 403', async (path) => {
    expect((await get(path, KEYS.factoryA)).status).toBe(403)
  })

  it('and unscoped requests return only its own factory', async () => {
    const d = await get(`/api/v1/equipment/downtime?start=${iso(SHIFT_START)}&end=${iso(SHIFT_END)}`, KEYS.factoryA)
    expect(d.body.totalDownS).toBe(0)
    const c = await get(`/api/v1/production/counts?start=${iso(D)}&end=${iso(D + 48 * H)}`, KEYS.factoryA)
    expect(c.body.totals.total).toBe(0)
  })
})
