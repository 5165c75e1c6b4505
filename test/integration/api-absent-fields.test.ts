import type { MqttClient } from 'mqtt'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { KEYS, SECRETS, testRegistry } from '../helpers/fixtures.js'
import { connectGateway, encode, publish } from '../helpers/gateway.js'
import { startTestInfluxd } from '../helpers/influxd.js'
import { apiGet, eventually, startTestService, type TestService } from '../helpers/service.js'
import { openSseStream } from '../helpers/sse.js'

// Regressions: a sample without a unit had `unit: null` in REST answers and `unit: ""` in the live
// stream; a state change without a reason code had `reason: ""` in REST and `reasonCode: ""` in the
// stream; an inspection's absent defect code and lot were null in REST and "" in the stream. Absent is
// null in both (docs/api.md, "Absent fields").
let influxd: Awaited<ReturnType<typeof startTestInfluxd>>
let svc: TestService
let gw: MqttClient

beforeAll(async () => {
  influxd = await startTestInfluxd()
  svc = await startTestService(influxd.url, { registry: await testRegistry() })
  gw = await connectGateway(svc.mqttUrl, 'gw-a', SECRETS.gwA)
})

afterAll(async () => {
  await gw?.endAsync()
  await svc?.dispose()
  await influxd?.dispose()
})

/** The data of the first `count` events of an SSE stream. */
async function streamEvents(path: string, count: number, trigger: () => Promise<void>): Promise<any[]> {
  const stream = await openSseStream(svc.httpUrl, path, KEYS.all)
  try {
    await trigger()
    await eventually(() => stream.events.length >= count)
    return stream.events.slice(0, count).map((e) => e.data)
  } finally {
    await stream.close()
  }
}

describe('a sample or inspection without a unit', () => {
  it('has unit null in the stream, as in REST; a given unit is kept in both', async () => {
    const now = Date.now()
    const [telemetry, quality] = await streamEvents('/api/v1/stream?factory=fa&kinds=telemetry,quality', 2, async () => {
      await publish(gw, 'iiot/v1/za/fa/l1/m1/telemetry', encode('telemetry', { seq: 1, samples: [
        { signal: 'door.open', boolValue: true, tsMs: now - 2000 },
        { signal: 'spindle.temperature', doubleValue: 40, unit: 'degC', tsMs: now - 2000 },
      ] }))
      await publish(gw, 'iiot/v1/za/fa/l1/m1/quality', encode('quality', { seq: 1, inspections: [{ characteristic: 'visual', value: 1, tsMs: now - 1000 }] }))
    })
    expect(telemetry.message.samples.map((s: any) => [s.signal, s.unit])).toEqual([['door.open', null], ['spindle.temperature', 'degC']])
    expect(quality.message.inspections[0].unit).toBeNull()

    const latest = await eventually(async () => {
      const r = await apiGet(svc.httpUrl, '/api/v1/telemetry/latest?factory=fa&line=l1&machine=m1', KEYS.all)
      return r.body.count === 2 ? r.body : undefined
    })
    expect(latest.values.map((v: any) => [v.signal, v.unit])).toEqual([['door.open', null], ['spindle.temperature', 'degC']])
    const inspections = await apiGet(svc.httpUrl, '/api/v1/quality/inspections?factory=fa', KEYS.all)
    expect(inspections.body.inspections[0].unit).toBeNull()
  })
})

describe('a state change without a reason, an inspection without its optional fields', () => {
  it('are null in the stream and in REST', async () => {
    const now = Date.now()
    const [state, quality] = await streamEvents('/api/v1/stream?factory=fa&machine=m2&line=l1&kinds=state,quality', 2, async () => {
      await publish(gw, 'iiot/v1/za/fa/l1/m2/state', encode('state', { seq: 1, changes: [{ state: 1, tsMs: now - 2000 }] }))
      await publish(gw, 'iiot/v1/za/fa/l1/m2/quality', encode('quality', { seq: 1, inspections: [{ characteristic: 'visual', value: 1, tsMs: now - 1000 }] }))
    })
    expect(state.message.changes[0]).toMatchObject({ state: 'running', reasonCode: null })
    const absent = { lsl: null, usl: null, target: null, unit: null, pass: null, defectCode: null, lot: null }
    expect(quality.message.inspections[0]).toMatchObject(absent)

    const current = await apiGet(svc.httpUrl, '/api/v1/equipment/state?factory=fa&line=l1&machine=m2', KEYS.all)
    expect(current.body.machines[0]).toMatchObject({ state: 'running', reason: null })
    const intervals = await eventually(async () => {
      const r = await apiGet(svc.httpUrl, `/api/v1/equipment/timeline?factory=fa&line=l1&machine=m2&start=${new Date(now - 60_000).toISOString()}`, KEYS.all)
      return r.body.intervals?.length === 2 ? r.body.intervals : undefined
    })
    expect(intervals.map((i: any) => [i.state, i.reason])).toEqual([['unknown', null], ['running', null]])
    const inspections = await eventually(async () => {
      const r = await apiGet(svc.httpUrl, '/api/v1/quality/inspections?factory=fa&line=l1&machine=m2', KEYS.all)
      return r.body.count === 1 ? r.body : undefined
    })
    expect(inspections.inspections[0]).toMatchObject(absent)
  })
})
