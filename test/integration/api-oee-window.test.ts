import type { MqttClient } from 'mqtt'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { FAST, KEYS, hashSecret, testRegistry } from '../helpers/fixtures.js'
import { connectGateway, encode, publish } from '../helpers/gateway.js'
import { startTestInfluxd } from '../helpers/influxd.js'
import { apiGet, eventually, startTestService, type TestService } from '../helpers/service.js'

// GET /production/oee without start or end: the current shift so far, and the answer says so.
// Regression: the default was the last 24 hours, so a fresh demo's OEE read 0.0007 (a day of 'unknown').
// The shift calendar is built around the test's own clock so that "now" is two hours into a shift.
let influxd: Awaited<ReturnType<typeof startTestInfluxd>>
let svc: TestService
let gw: MqttClient

const M = 60_000
const H = 60 * M
const TZ_OFFSET = 7 * H // Asia/Ho_Chi_Minh, no DST
const localHhMm = (ms: number) => new Date(ms + TZ_OFFSET).toISOString().slice(11, 16)
// The current shift started S (a whole minute, about two hours ago) and lasts four hours.
const S = Math.floor((Date.now() - 2 * H) / M) * M
const iso = (ms: number) => new Date(ms).toISOString()

beforeAll(async () => {
  influxd = await startTestInfluxd()
  const registry = (await testRegistry()) as { zones: any[]; gateways: any[] }
  registry.zones[0].factories.push({
    id: 'fd',
    timezone: 'Asia/Ho_Chi_Minh',
    shifts: [
      { name: 'early', start: localHhMm(S - 3 * H), end: localHhMm(S - H) },
      { name: 'day', start: localHhMm(S), end: localHhMm(S + 4 * H) },
    ],
    lines: [
      { id: 'l1', machines: [{ id: 'm1', idealCycleTimeS: 10 }, { id: 'm2', idealCycleTimeS: 20 }] },
      { id: 'l2', machines: [{ id: 'm3', idealCycleTimeS: 30 }, { id: 'm4', idealCycleTimeS: 15 }] },
    ],
  })
  registry.zones[0].factories.push({ id: 'f247', lines: [{ id: 'l1', machines: [{ id: 'm1', idealCycleTimeS: 10 }] }] })
  registry.gateways.push({ id: 'gw-d', factory: 'fd', secretHash: await hashSecret('day-secret-0123456789', FAST) })
  svc = await startTestService(influxd.url, { registry })
  gw = await connectGateway(svc.mqttUrl, 'gw-d', 'day-secret-0123456789')

  const state = (machine: string, changes: object[]) => publish(gw, `iiot/v1/za/fd/${machine}/state`, encode('state', { seq: 1, changes }))
  const prod = (machine: string, reports: object[]) => publish(gw, `iiot/v1/za/fd/${machine}/production`, encode('production', { seq: 1, reports }))
  // m1: running since before the shift; a fault from S+30 min to S+50 min.
  await state('l1/m1', [{ state: 1, tsMs: S - H }, { state: 6, reasonCode: 'jam', tsMs: S + 30 * M }, { state: 1, tsMs: S + 50 * M }])
  // m2: idle since before the shift, running from S+20 min.
  await state('l1/m2', [{ state: 2, tsMs: S - 2 * H }, { state: 1, tsMs: S + 20 * M }])
  await prod('l1/m1', [
    { mode: 1, good: 999, reject: 9, tsMs: S - 30 * M }, // before the shift: not counted
    { mode: 1, good: 300, reject: 10, tsMs: S + 40 * M },
    { mode: 1, good: 200, reject: 0, tsMs: S + 90 * M },
  ])
  await prod('l1/m2', [{ mode: 1, good: 100, reject: 0, tsMs: S + 60 * M }])
  // l2/m3: never heard of before S+60 min (a machine commissioned during the shift); l2/m4 running since before.
  await state('l2/m3', [{ state: 1, tsMs: S + 60 * M }])
  await prod('l2/m3', [{ mode: 1, good: 50, reject: 0, tsMs: S + 70 * M }])
  await state('l2/m4', [{ state: 1, tsMs: S - 30 * M }])
  await prod('l2/m4', [{ mode: 1, good: 40, reject: 0, tsMs: S + 10 * M }])
  await eventually(() => svc.journal.stats().unwrittenRecords === 0)
})

afterAll(async () => {
  await gw?.endAsync()
  await svc?.dispose()
  await influxd?.dispose()
})

const get = (path: string) => apiGet(svc.httpUrl, path, KEYS.all)

describe('OEE without start or end', () => {
  it('is read from the OEE index, which holds what the gateway sent (docs/api.md, "The OEE index")', async () => {
    // The index loads from InfluxDB after start-up, in the background: on a loaded machine that can outlast the set-up.
    const metrics = await eventually(async () => {
      const text = (await get('/metrics')).text as string
      return /^iiot_oee_index_loaded 1$/m.test(text) && text
    }, 30_000).catch(async () => (await get('/metrics')).text as string)
    expect(metrics).toMatch(/^iiot_oee_index_loaded 1$/m)
    // The seven state reports published above, and nothing else.
    expect(metrics).toMatch(/^iiot_oee_index_states 7$/m)
  })

  it('covers the current shift from its start to now, says so, and rolls the line up over it', async () => {
    const { status, body } = await get('/api/v1/production/oee?factory=fd&line=l1')
    expect(status).toBe(200)
    const E = Date.parse(body.end)
    expect(body.start).toBe(iso(S))
    expect(E).toBeGreaterThanOrEqual(S + 2 * H - M)
    expect(body.window).toEqual({
      basis: 'current-shift',
      description: `the current shift, "day" (${localHhMm(S)}-${localHhMm(S + 4 * H)} Asia/Ho_Chi_Minh) of ${iso(S + TZ_OFFSET).slice(0, 10)}, from its start to now`,
      shift: { name: 'day', date: iso(S + TZ_OFFSET).slice(0, 10), start: iso(S), end: iso(S + 4 * H) },
      machinesFromFirstState: 0,
    })
    const planned = E - S
    const m1 = body.oee.machines.find((m: any) => m.machine === 'm1')
    // m1: run = planned - 20 min of fault; 500 good + 10 reject in the shift; ideal output 10 s x 510.
    expect(m1).toMatchObject({ start: iso(S), plannedTimeMs: planned, runTimeMs: planned - 20 * M, unplannedDowntimeMs: 20 * M, unknownMs: 0, goodCount: 500, rejectCount: 10, idealOutputTimeMs: 5_100_000 })
    const m2 = body.oee.machines.find((m: any) => m.machine === 'm2')
    // m2: idle for the first 20 min; 100 good; ideal output 20 s x 100.
    expect(m2).toMatchObject({ plannedTimeMs: planned, runTimeMs: planned - 20 * M, idleMs: 20 * M, unknownMs: 0, goodCount: 100, idealOutputTimeMs: 2_000_000 })
    // Line: the inputs summed, then A, P and Q.
    expect(body.oee).toMatchObject({ plannedProductionTimeMs: 2 * planned, runTimeMs: 2 * planned - 40 * M, idealOutputTimeMs: 7_100_000, goodCount: 600, totalCount: 610 })
    expect(body.oee.availability).toBeCloseTo((2 * planned - 40 * M) / (2 * planned), 12)
    expect(body.oee.oee).toBeCloseTo((7_100_000 / (2 * planned)) * (600 / 610), 12)
  })

  it('measures a machine never heard of before the shift from its first state, and says so', async () => {
    const one = (await get('/api/v1/production/oee?factory=fd&line=l2&machine=m3')).body
    const E = Date.parse(one.end)
    expect(one.start).toBe(iso(S + 60 * M))
    expect(one.window.basis).toBe('current-shift')
    expect(one.window.machinesFromFirstState).toBe(1)
    expect(one.window.description).toMatch(/; machines that had reported no state before it are measured from their first state report$/)
    // m3 ran all the time it was known: A = 1, no unknown time; P = 30 s x 50 / run time.
    expect(one.oee).toMatchObject({ start: iso(S + 60 * M), plannedTimeMs: E - (S + 60 * M), runTimeMs: E - (S + 60 * M), unknownMs: 0, availability: 1, goodCount: 50 })
    expect(one.oee.performance).toBeCloseTo(1_500_000 / (E - (S + 60 * M)), 12)

    // The line: m4 (known since before the shift) from the shift's start, m3 from its first state.
    const line = (await get('/api/v1/production/oee?factory=fd&line=l2')).body
    const EL = Date.parse(line.end)
    expect(line.start).toBe(iso(S))
    expect(line.window.machinesFromFirstState).toBe(1)
    const m3 = line.oee.machines.find((m: any) => m.machine === 'm3')
    const m4 = line.oee.machines.find((m: any) => m.machine === 'm4')
    expect(m3).toMatchObject({ start: iso(S + 60 * M), plannedTimeMs: EL - (S + 60 * M), unknownMs: 0, goodCount: 50 })
    expect(m4).toMatchObject({ start: iso(S), plannedTimeMs: EL - S, unknownMs: 0, goodCount: 40 })
    // Summed inputs: planned 2 x E - 2 S - 60 min, all of it run; ideal output 30 s x 50 + 15 s x 40 = 2100 s.
    expect(line.oee).toMatchObject({ plannedTimeMs: 2 * EL - 2 * S - 60 * M, runTimeMs: 2 * EL - 2 * S - 60 * M, unknownMs: 0, availability: 1, idealOutputTimeMs: 2_100_000, goodCount: 90 })
  })

  it('per shift: the current shift occurrence, clipped to now', async () => {
    const { body } = await get('/api/v1/production/oee?factory=fd&line=l1&machine=m1&by=shift')
    expect(body.shifts.map((s: any) => [s.name, s.start, s.end, s.clippedToWindow])).toEqual([['day', iso(S), iso(S + 4 * H), true]])
    expect(body.shifts[0].oee.goodCount).toBe(500)
  })

  it('with no shift calendar covers the last 24 hours', async () => {
    const { body } = await get('/api/v1/production/oee?factory=f247&line=l1')
    expect(Date.parse(body.end) - Date.parse(body.start)).toBe(24 * H)
    expect(body.window).toEqual({ basis: 'last-24h', description: 'the last 24 hours: the factory has no shift calendar, so it is planned 24/7', shift: null, machinesFromFirstState: 0 })
  })

  it('a requested window is used as given and called so', async () => {
    const { body } = await get(`/api/v1/production/oee?factory=fd&line=l1&start=${iso(S - 2 * H)}&end=${iso(S)}`)
    expect([body.start, body.end]).toEqual([iso(S - 2 * H), iso(S)])
    expect(body.window).toEqual({ basis: 'requested', description: 'the requested window', shift: null, machinesFromFirstState: 0 })
  })
})
