import type { MqttClient } from 'mqtt'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { KEYS, SECRETS } from '../helpers/fixtures.js'
import { connectGateway, encode, publish } from '../helpers/gateway.js'
import { startTestInfluxd } from '../helpers/influxd.js'
import { eventually, startTestService, type TestService, apiGet } from '../helpers/service.js'

// Publish one message of each kind through MQTT and read it back through the API, exactly.
let influxd: Awaited<ReturnType<typeof startTestInfluxd>>
let svc: TestService
let gw: MqttClient

beforeAll(async () => {
  influxd = await startTestInfluxd()
  svc = await startTestService(influxd.url)
  gw = await connectGateway(svc.mqttUrl, 'gw-a', SECRETS.gwA)
})

afterAll(async () => {
  await gw?.endAsync()
  await svc?.dispose()
  await influxd?.dispose()
})

const api = (path: string, key: string = KEYS.all) => apiGet(svc.httpUrl, path, key)

/** The stored records once there are `expected` of them and two reads agree (a read racing a write can see a point before all its fields). */
async function records(kind: string, query: string, expected: number): Promise<any[]> {
  return eventually(async () => {
    const first = (await api(`/api/v1/records/${kind}?${query}`)).body.records
    if (first?.length !== expected) return undefined
    await new Promise((r) => setTimeout(r, 50))
    const second = (await api(`/api/v1/records/${kind}?${query}`)).body.records
    return JSON.stringify(first) === JSON.stringify(second) ? second : undefined
  })
}

describe('publish -> store -> query, per kind', () => {
  // 10 s into a 2-minute bucket, 3-5 minutes ago: InfluxDB aligns GROUP BY time(2m) buckets to the
  // epoch, so the 2-minute mean below covers t0 and t0 + 1 s in one bucket whatever the clock says
  // (with t0 a minute ago, one run in 120 saw a bucket boundary fall between them).
  const t0 = Math.floor((Date.now() - 180_000) / 120_000) * 120_000 + 10_000

  it('telemetry: every sample, each value type, comes back as sent', async () => {
    const payload = encode('telemetry', {
      seq: 1,
      sentTsMs: t0 + 5000,
      samples: [
        { signal: 'spindle.temperature', doubleValue: 41.25, unit: 'degC', tsMs: t0, quality: 1 },
        { signal: 'spindle.speed', intValue: 12000, unit: 'rpm', tsMs: t0 },
        { signal: 'door.open', boolValue: true, tsMs: t0, quality: 2 },
        { signal: 'program.name', stringValue: 'O1234 "rough", pass=2', tsMs: t0, quality: 3 },
        { signal: 'spindle.temperature', doubleValue: 41.5, unit: 'degC', tsMs: t0 + 1000 },
      ],
    })
    await publish(gw, 'iiot/v1/za/fa/l1/m1/telemetry', payload)
    const rows = await records('telemetry', `factory=fa&line=l1&machine=m1&start=${new Date(t0 - 1).toISOString()}`, 5)
    const bySignal = (s: string) => rows.filter((r) => r.tags.signal === s)
    expect(bySignal('spindle.temperature').map((r) => [r.time, r.fields.value, r.fields.unit])).toEqual([
      [new Date(t0).toISOString(), 41.25, 'degC'],
      [new Date(t0 + 1000).toISOString(), 41.5, 'degC'],
    ])
    expect(bySignal('spindle.speed')[0].fields).toMatchObject({ value: 12000, unit: 'rpm', quality: 'good', seq: 1 })
    expect(bySignal('door.open')[0].fields).toMatchObject({ value_bool: true, quality: 'uncertain' })
    expect(bySignal('program.name')[0].fields).toMatchObject({ value_str: 'O1234 "rough", pass=2', quality: 'bad' })
    expect(rows[0].tags).toMatchObject({ zone: 'za', factory: 'fa', line: 'l1', machine: 'm1' })

    const latest = await api('/api/v1/telemetry/latest?factory=fa&line=l1&machine=m1&lookback=1h')
    expect(latest.status).toBe(200)
    const temp = latest.body.values.find((v: any) => v.signal === 'spindle.temperature')
    expect(temp).toMatchObject({ value: 41.5, unit: 'degC', time: new Date(t0 + 1000).toISOString(), machine: 'm1' })
    expect(latest.body.values).toHaveLength(4)

    const series = await api(`/api/v1/telemetry/series?factory=fa&line=l1&machine=m1&signal=spindle.temperature&start=${new Date(t0 - 60_000).toISOString()}&end=${new Date(t0 + 60_000).toISOString()}&interval=2m&aggregate=mean`)
    expect(series.status).toBe(200)
    expect(series.body.points.map((p: any) => p.value)).toEqual([41.375])
  })

  it('state: state, reason and alarms', async () => {
    await publish(gw, 'iiot/v1/za/fa/l1/m2/state', encode('state', { seq: 7, changes: [{ state: 1, tsMs: t0 }, { state: 6, reasonCode: 'spindle-overheat', alarmCodes: ['A100', 'A205'], tsMs: t0 + 2000 }] }))
    const rows = await records('state', `factory=fa&line=l1&machine=m2&start=${new Date(t0 - 1).toISOString()}`, 2)
    expect(rows.map((r) => [r.time, r.fields.state, r.fields.reason, r.fields.alarms])).toEqual([
      [new Date(t0).toISOString(), 'running', undefined, undefined],
      [new Date(t0 + 2000).toISOString(), 'fault', 'spindle-overheat', 'A100,A205'],
    ])
  })

  it('production: delta counts, and counters turned into deltas across a reset', async () => {
    const topic = 'iiot/v1/za/fa/l1/m1/production'
    await publish(gw, topic, encode('production', { seq: 1, reports: [{ mode: 1, good: 10, reject: 1, cycleTimeS: 11.5, workOrder: 'WO-1', product: 'P-7', tsMs: t0 }] }))
    await publish(gw, topic, encode('production', { seq: 2, reports: [{ mode: 2, good: 100, reject: 5, tsMs: t0 + 1000 }, { mode: 2, good: 130, reject: 6, tsMs: t0 + 2000 }, { mode: 2, good: 4, reject: 0, tsMs: t0 + 3000 }] }))
    const rows = await records('production', `factory=fa&line=l1&machine=m1&start=${new Date(t0 - 1).toISOString()}`, 4)
    expect(rows.map((r) => [r.fields.good, r.fields.reject, r.fields.total])).toEqual([
      [10, 1, 11],
      [undefined, undefined, undefined], // first counter seen: no previous value, so no delta is written
      [30, 1, 31],
      [4, 0, 4], // reset: counting restarts from zero
    ])
    expect(rows[0].fields).toMatchObject({ cycle_time_s: 11.5, work_order: 'WO-1', product: 'P-7' })
    expect(rows[3].fields).toMatchObject({ counter_good: 4, counter_reject: 0 })
  })

  it('quality: measurement with limits; pass/fail derived when not given', async () => {
    await publish(gw, 'iiot/v1/za/fa/l1/m1/quality', encode('quality', {
      seq: 3,
      inspections: [
        { characteristic: 'bore.diameter', value: 25.01, lsl: 24.95, usl: 25.05, target: 25, unit: 'mm', lot: 'LOT-9', tsMs: t0 },
        { characteristic: 'bore.diameter', value: 25.07, lsl: 24.95, usl: 25.05, target: 25, unit: 'mm', lot: 'LOT-9', defectCode: 'OVERSIZE', tsMs: t0 + 1000 },
      ],
    }))
    const rows = await records('quality', `factory=fa&line=l1&machine=m1&start=${new Date(t0 - 1).toISOString()}`, 2)
    expect(rows.map((r) => [r.tags.characteristic, r.fields.value, r.fields.pass, r.fields.defect_code ?? null])).toEqual([
      ['bore.diameter', 25.01, true, null],
      ['bore.diameter', 25.07, false, 'OVERSIZE'],
    ])
    expect(rows[0].fields).toMatchObject({ lsl: 24.95, usl: 25.05, target: 25, unit: 'mm', lot: 'LOT-9' })
  })

  it('connectivity: link quality per gateway and radio access', async () => {
    await publish(gw, 'iiot/v1/za/fa/_gateway/gw-a/connectivity', encode('connectivity', {
      seq: 1,
      reports: [{ access: 1, rsrpDbm: -92.5, rsrqDb: -10, sinrDb: 18, rttMs: 9.5, uplinkMbps: 55, downlinkMbps: 410, cellId: 'cell-17', tsMs: t0 }],
    }))
    // Retried as a whole: a query racing the write can see the point before all its fields.
    await eventually(async () => {
      const rows = await records('connectivity', `zone=za&factory=fa&start=${new Date(t0 - 1).toISOString()}`, 1)
      expect(rows[0].tags).toEqual({ zone: 'za', factory: 'fa', gateway: 'gw-a', access: '5g-sa' })
      expect(rows[0].fields).toMatchObject({ rsrp_dbm: -92.5, rsrq_db: -10, sinr_db: 18, rtt_ms: 9.5, uplink_mbps: 55, downlink_mbps: 410, cell_id: 'cell-17' })
      return true
    })
  })

  it('over WebSocket too', async () => {
    const ws = await connectGateway(svc.wsUrl, 'gw-a', SECRETS.gwA)
    try {
      await publish(ws, 'iiot/v1/za/fa/l1/m2/telemetry', encode('telemetry', { seq: 1, samples: [{ signal: 'ws.check', doubleValue: 7, tsMs: t0 }] }))
    } finally {
      await ws.endAsync()
    }
    const rows = await records('telemetry', `factory=fa&line=l1&machine=m2&start=${new Date(t0 - 1).toISOString()}`, 1)
    expect(rows[0]).toMatchObject({ tags: { signal: 'ws.check' }, fields: { value: 7 } })
  })
})
