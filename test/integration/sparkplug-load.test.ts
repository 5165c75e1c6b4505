import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { buildBenchRegistry } from '../../bench/lib/bench-registry.js'
import { LoadGenerator } from '../../bench/lib/load-generator.js'
import { verifyStored } from '../../bench/lib/verify-stored.js'
import { influxQuery, startTestInfluxd } from '../helpers/influxd.js'
import { eventually, startTestService, type TestService } from '../helpers/service.js'

/** The bench's `--protocol sparkplug` load: Sparkplug edge nodes whose points the loss check finds as it finds iiot/v1 ones. */
let influxd: Awaited<ReturnType<typeof startTestInfluxd>>
let svc: TestService
let bench: Awaited<ReturnType<typeof buildBenchRegistry>>

beforeAll(async () => {
  influxd = await startTestInfluxd()
  bench = await buildBenchRegistry({ gateways: 2, machinesPerGateway: 3, hashN: 1024 })
  svc = await startTestService(influxd.url, { registry: bench.doc, env: { MQTT_PUBLISH_RATE_PER_GATEWAY: '0' } })
})

afterAll(async () => {
  await svc?.dispose()
  await influxd?.dispose()
})

describe('bench load generator --protocol sparkplug', () => {
  it('every acknowledged DDATA is stored as the same telemetry points, none lost, none duplicated', async () => {
    const gen = new LoadGenerator({ url: svc.mqttUrl, gateways: bench.gateways, messagesPerSecond: 300, samplesPerMessage: 4, qos: 1, protocol: 'sparkplug' })
    try {
      await gen.connect()
      gen.start()
      await eventually(() => gen.stats().acked >= 300, 20_000)
      await gen.stop(5000)
    } finally {
      await gen.disconnect()
    }
    await eventually(() => svc.journal.stats().unwrittenRecords === 0)
    const result = await eventually(async () => {
      const r = await verifyStored(gen, (q) => influxQuery(influxd.url, svc.database, q), 4)
      return r.lost === 0 ? r : undefined
    })
    expect(result).toMatchObject({ lost: 0, duplicates: 0 })
    expect(result.acked).toBe(gen.stats().acked)
    expect((await svc.rejections.list({ limit: 10 })).length).toBe(0)
  })

  it('the mix must be telemetry only', () => {
    expect(() => new LoadGenerator({ url: svc.mqttUrl, gateways: bench.gateways, messagesPerSecond: 1, samplesPerMessage: 1, qos: 1, protocol: 'sparkplug', mix: 'plant' })).toThrow(/telemetry only/)
  })
})
