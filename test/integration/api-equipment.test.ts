import type { MqttClient } from 'mqtt'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { KEYS, SECRETS } from '../helpers/fixtures.js'
import { connectGateway, encode, publish } from '../helpers/gateway.js'
import { startTestInfluxd } from '../helpers/influxd.js'
import { eventually, startTestService, type TestService, apiGet } from '../helpers/service.js'
import { openSseStream } from '../helpers/sse.js'

let influxd: Awaited<ReturnType<typeof startTestInfluxd>>
let svc: TestService
let gwA: MqttClient
let gwB: MqttClient

beforeAll(async () => {
  influxd = await startTestInfluxd()
  svc = await startTestService(influxd.url)
  gwA = await connectGateway(svc.mqttUrl, 'gw-a', SECRETS.gwA)
  gwB = await connectGateway(svc.mqttUrl, 'gw-b', SECRETS.gwB)
})

afterAll(async () => {
  await gwA?.endAsync()
  await gwB?.endAsync()
  await svc?.dispose()
  await influxd?.dispose()
})

const get = (path: string, key: string = KEYS.all) => apiGet(svc.httpUrl, path, key)

describe('current state, hierarchy and alarms', () => {
  const t0 = Date.now() - 60_000
  it('reports each machine\'s state, since when, and keeps "since" across re-published states', async () => {
    await publish(gwA, 'iiot/v1/za/fa/l1/m1/state', encode('state', { seq: 1, changes: [{ state: 1, tsMs: t0 }] }))
    await publish(gwA, 'iiot/v1/za/fa/l1/m1/state', encode('state', { seq: 2, changes: [{ state: 1, tsMs: t0 + 30_000 }] }))
    await publish(gwA, 'iiot/v1/za/fa/l1/m2/state', encode('state', { seq: 1, changes: [{ state: 6, reasonCode: 'spindle-overheat', alarmCodes: ['A100'], tsMs: t0 + 10_000 }] }))
    // The live table learns a message when it is decoded from the journal, just after its acknowledgement.
    await eventually(() => svc.journal.stats().unwrittenRecords === 0)
    const { status, body } = await get('/api/v1/equipment/state?factory=fa')
    expect(status).toBe(200)
    const m1 = body.machines.find((m: any) => m.machine === 'm1')
    const m2 = body.machines.find((m: any) => m.machine === 'm2')
    expect(m1).toMatchObject({ state: 'running', since: new Date(t0).toISOString(), online: true })
    expect(m2).toMatchObject({ state: 'fault', reason: 'spindle-overheat', alarms: ['A100'], since: new Date(t0 + 10_000).toISOString() })
    expect(body.byState).toEqual({ running: 1, fault: 1 })

    const alarms = await get('/api/v1/equipment/alarms')
    expect(alarms.body.alarms.map((a: any) => [a.machine, a.alarms])).toEqual([['m2', ['A100']]])

    const tree = await get('/api/v1/hierarchy', KEYS.factoryA)
    expect(tree.body.zones.map((z: any) => z.id)).toEqual(['za'])
    expect(tree.body.zones[0].factories[0].lines[0].machines.map((m: any) => [m.id, m.state, m.online])).toEqual([
      ['m1', 'running', true],
      ['m2', 'fault', true],
    ])
  })

  it('reports a machine that never sent anything as offline, and keeps other factories out of a scoped key\'s view', async () => {
    const fb = await get('/api/v1/equipment/state?factory=fb')
    expect(fb.body.machines).toEqual([expect.objectContaining({ machine: 'm1', state: 'offline', online: false, lastSeen: null })])
    expect((await get('/api/v1/equipment/state?factory=fb', KEYS.factoryA)).status).toBe(403)
    const own = await get('/api/v1/equipment/state', KEYS.factoryA)
    expect(own.body.machines.every((m: any) => m.factory === 'fa')).toBe(true)
  })

  it('a restarted service knows the states from InfluxDB', async () => {
    await eventually(() => svc.journal.stats().unwrittenRecords === 0)
    const again = await startTestService(influxd.url, { database: svc.database })
    try {
      const res = await fetch(`${again.httpUrl}/api/v1/equipment/state?factory=fa`, { headers: { authorization: `Bearer ${KEYS.all}` } })
      const body = (await res.json()) as any
      expect(body.machines.find((m: any) => m.machine === 'm2')).toMatchObject({ reportedState: 'fault', reason: 'spindle-overheat', alarms: ['A100'] })
      // "since" survives the restart: the re-published running state at t0+30s kept t0.
      expect(body.machines.find((m: any) => m.machine === 'm1').since).toBe(new Date(t0).toISOString())
    } finally {
      await again.dispose()
    }
  })
})

describe('production counts and inspections', () => {
  it('sums counts per interval, per machine or for the scope', async () => {
    const base = Math.floor(Date.now() / 3_600_000) * 3_600_000 - 2 * 3_600_000
    await publish(gwA, 'iiot/v1/za/fa/l1/m1/production', encode('production', { seq: 1, reports: [
      { mode: 1, good: 10, reject: 1, tsMs: base + 60_000 },
      { mode: 1, good: 5, reject: 0, tsMs: base + 3_600_000 + 60_000 },
    ] }))
    await publish(gwA, 'iiot/v1/za/fa/l1/m2/production', encode('production', { seq: 1, reports: [{ mode: 1, good: 7, reject: 2, tsMs: base + 120_000 }] }))
    const q = `factory=fa&start=${new Date(base).toISOString()}&end=${new Date(base + 2 * 3_600_000).toISOString()}&interval=1h`
    const total = await eventually(async () => {
      const r = await get(`/api/v1/production/counts?${q}`)
      return r.body.totals?.total === 25 ? r.body : undefined
    })
    expect(total.series).toHaveLength(1)
    expect(total.series[0].buckets).toEqual([
      { time: new Date(base).toISOString(), good: 17, reject: 3, total: 20 },
      { time: new Date(base + 3_600_000).toISOString(), good: 5, reject: 0, total: 5 },
    ])
    const perMachine = await get(`/api/v1/production/counts?${q}&by=machine`)
    expect(perMachine.body.series.map((s: any) => [s.machine, s.buckets.reduce((n: number, b: any) => n + b.good, 0)])).toEqual([
      ['m1', 15],
      ['m2', 7],
    ])
  })

  it('lists inspections filtered by characteristic, lot and pass', async () => {
    const now = Date.now()
    await publish(gwA, 'iiot/v1/za/fa/l1/m1/quality', encode('quality', { seq: 1, inspections: [
      { characteristic: 'bore.diameter', value: 25.0, lsl: 24.95, usl: 25.05, lot: 'L1', tsMs: now - 3000 },
      { characteristic: 'bore.diameter', value: 25.1, lsl: 24.95, usl: 25.05, lot: 'L1', defectCode: 'OVERSIZE', tsMs: now - 2000 },
      { characteristic: 'surface.ra', value: 0.8, lot: 'L2', tsMs: now - 1000 },
    ] }))
    const failed = await eventually(async () => {
      const r = await get('/api/v1/quality/inspections?factory=fa&characteristic=bore.diameter&pass=false')
      return r.body.count === 1 ? r.body : undefined
    })
    expect(failed.inspections[0]).toMatchObject({ machine: 'm1', value: 25.1, pass: false, defectCode: 'OVERSIZE', lot: 'L1', usl: 25.05 })
    const lot2 = await get('/api/v1/quality/inspections?factory=fa&lot=L2')
    expect(lot2.body.inspections.map((i: any) => i.characteristic)).toEqual(['surface.ra'])
  })
})

describe('live stream', () => {
  const openStream = (path: string, key: string, headers?: Record<string, string>) => openSseStream(svc.httpUrl, path, key, headers)

  it('streams decoded messages in the key\'s scope only, filtered by kind, and resumes with Last-Event-ID', async () => {
    const a = await openStream('/api/v1/stream?kinds=telemetry', KEYS.factoryA)
    expect(a.res.headers.get('content-type')).toContain('text/event-stream')
    await publish(gwB, 'iiot/v1/zb/fb/l1/m1/telemetry', encode('telemetry', { seq: 1, samples: [{ signal: 'other.factory', doubleValue: 1, tsMs: Date.now() }] }))
    await publish(gwA, 'iiot/v1/za/fa/l1/m1/state', encode('state', { seq: 9, changes: [{ state: 2, tsMs: Date.now() }] }))
    await publish(gwA, 'iiot/v1/za/fa/l1/m1/telemetry', encode('telemetry', { seq: 5, samples: [{ signal: 'mine', doubleValue: 42, tsMs: Date.now() }] }))
    await eventually(() => a.events.length >= 1)
    await new Promise((r) => setTimeout(r, 200))
    expect(a.events.map((e) => [e.event, e.data.factory, e.data.message.samples[0].signal])).toEqual([['telemetry', 'fa', 'mine']])
    const firstId = a.events[0]!.id
    await a.close()

    await publish(gwA, 'iiot/v1/za/fa/l1/m1/telemetry', encode('telemetry', { seq: 6, samples: [{ signal: 'while-away', doubleValue: 43, tsMs: Date.now() }] }))
    const b = await openStream('/api/v1/stream?kinds=telemetry', KEYS.factoryA, { 'last-event-id': String(firstId) })
    await eventually(() => b.events.length >= 1)
    expect(b.events[0]!.data.message.samples[0].signal).toBe('while-away')
    await b.close()

    expect((await fetch(`${svc.httpUrl}/api/v1/stream?factory=fb`, { headers: { authorization: `Bearer ${KEYS.factoryA}` } })).status).toBe(403)
    expect((await fetch(`${svc.httpUrl}/api/v1/stream?kinds=alarms`, { headers: { authorization: `Bearer ${KEYS.factoryA}` } })).status).toBe(400)
  })
})
