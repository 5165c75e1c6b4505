import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { LoadGenerator } from '../../bench/lib/load-generator.js'
import { verifyStored } from '../../bench/lib/verify-stored.js'
import { LOAD_GATEWAYS } from '../helpers/fixtures.js'
import { influxQuery, startTestInfluxd } from '../helpers/influxd.js'
import { eventually, startTestService, type TestService } from '../helpers/service.js'

// InfluxDB goes away in the middle of a steady QoS 1 load and comes back:
// every acknowledged message must be in InfluxDB afterwards, exactly once.
let influxd: Awaited<ReturnType<typeof startTestInfluxd>>
let svc: TestService

beforeAll(async () => {
  influxd = await startTestInfluxd()
  svc = await startTestService(influxd.url, { env: { WRITE_RETRY_MAX_MS: '500', WRITE_BATCH_SIZE: '500' } })
})

afterAll(async () => {
  await svc?.dispose()
  await influxd?.dispose()
})

describe('InfluxDB outage', () => {
  it('keeps every acknowledged message through a 20 s outage', async () => {
    const gen = new LoadGenerator({ url: svc.mqttUrl, gateways: LOAD_GATEWAYS, messagesPerSecond: 300, samplesPerMessage: 5, qos: 1 })
    await gen.connect()
    gen.start()
    await new Promise((r) => setTimeout(r, 3000))
    await influxd.stop()
    const ackedAtStop = gen.stats().acked
    await new Promise((r) => setTimeout(r, 20_000))
    // Acknowledgements kept coming while InfluxDB was down: the journal holds them.
    expect(gen.stats().acked).toBeGreaterThan(ackedAtStop + 1000)
    expect(svc.journal.stats().unwrittenRecords).toBeGreaterThan(1000)
    await influxd.restart()
    await new Promise((r) => setTimeout(r, 3000))
    await gen.stop()
    await eventually(() => svc.journal.stats().unwrittenRecords === 0, 60_000)
    const result = await verifyStored(gen, (q) => influxQuery(influxd.url, svc.database, q), 5)
    await gen.disconnect()
    expect(result.acked).toBe(gen.stats().acked)
    expect(result.acked).toBeGreaterThan(5000)
    expect(result.lost).toBe(0)
    expect(result.duplicates).toBe(0)
    expect(result.pointsStored).toBe(result.stored * 5)
  }, 120_000)

  it('starts while InfluxDB is down, acknowledges into the journal, and stores it all once InfluxDB answers', async () => {
    await influxd.stop()
    // A fresh database: it can only be created once InfluxDB is back.
    const late = await startTestService(influxd.url, { env: { WRITE_RETRY_MAX_MS: '500' } })
    try {
      expect((await fetch(`${late.httpUrl}/readyz`)).status).toBe(503)
      const gen = new LoadGenerator({ url: late.mqttUrl, gateways: LOAD_GATEWAYS, messagesPerSecond: 200, samplesPerMessage: 5, qos: 1 })
      await gen.connect()
      gen.start()
      await new Promise((r) => setTimeout(r, 3000))
      expect(gen.stats().acked).toBeGreaterThan(300)
      await influxd.restart()
      await new Promise((r) => setTimeout(r, 1000))
      await gen.stop()
      await eventually(() => late.journal.stats().unwrittenRecords === 0, 30_000)
      const result = await verifyStored(gen, (q) => influxQuery(influxd.url, late.database, q), 5)
      await gen.disconnect()
      expect([result.lost, result.duplicates]).toEqual([0, 0])
      expect(result.stored).toBe(gen.stats().acked)
      await eventually(async () => (await fetch(`${late.httpUrl}/readyz`)).status === 200, 10_000)
    } finally {
      await late.dispose()
    }
  }, 60_000)
})
