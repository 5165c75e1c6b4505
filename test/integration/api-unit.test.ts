import type { MqttClient } from 'mqtt'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { KEYS, SECRETS, testRegistry } from '../helpers/fixtures.js'
import { connectGateway, encode, publish } from '../helpers/gateway.js'
import { startTestInfluxd } from '../helpers/influxd.js'
import { apiGet, eventually, startTestService, type TestService } from '../helpers/service.js'
import { openSseStream } from '../helpers/sse.js'

// Regression: a sample without a unit had `unit: null` in REST answers and `unit: ""` in the live
// stream. "No unit" is null in both (docs/api.md, "Live stream").
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
