import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { LoadGenerator } from '../../bench/lib/load-generator.js'
import { verifyStored } from '../../bench/lib/verify-stored.js'
import { KEYS, LOAD_GATEWAYS, SECRETS } from '../helpers/fixtures.js'
import { connectGateway, encode, publish } from '../helpers/gateway.js'
import { influxQuery, startTestInfluxd } from '../helpers/influxd.js'
import { eventually, startTestService, type TestService } from '../helpers/service.js'

let influxd: Awaited<ReturnType<typeof startTestInfluxd>>
let svc: TestService

beforeAll(async () => {
  influxd = await startTestInfluxd()
  svc = await startTestService(influxd.url, { env: { JOURNAL_MAX_BYTES: String(1024 * 1024), WRITE_RETRY_MAX_MS: '300' } })
})

afterAll(async () => {
  await svc?.dispose()
  await influxd?.dispose()
})

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

describe('journal limit with InfluxDB down', () => {
  it('stops acknowledging at the limit, stays bounded, drops only QoS 0, and stores every acknowledged message after recovery', async () => {
    await influxd.stop()
    const gen = new LoadGenerator({ url: svc.mqttUrl, gateways: LOAD_GATEWAYS, messagesPerSecond: 600, samplesPerMessage: 5, qos: 1, maxInflight: 100 })
    await gen.connect()
    gen.start()
    await eventually(() => svc.journal.full, 20_000)
    await sleep(500)
    const ackedWhenFull = gen.stats().acked
    const heapWhenFull = process.memoryUsage().heapUsed
    await sleep(4000)
    // No acknowledgement while full: the broker holds them (and reads no more from those sockets).
    expect(gen.stats().acked).toBe(ackedWhenFull)
    expect(gen.stats().inflight).toBeGreaterThan(0)
    expect(svc.journal.stats().unwrittenBytes).toBeLessThan(1.1 * 1024 * 1024)
    expect(process.memoryUsage().heapUsed - heapWhenFull).toBeLessThan(64 * 1024 * 1024)

    const ready = await fetch(`${svc.httpUrl}/readyz`)
    expect(ready.status).toBe(503)
    expect(((await ready.json()) as { checks: { journal: boolean } }).checks.journal).toBe(false)

    // QoS 0 while full: dropped and counted, never blocking.
    const gw = await connectGateway(svc.mqttUrl, 'gw-a', SECRETS.gwA)
    for (let i = 0; i < 5; i++) await publish(gw, 'iiot/v1/za/fa/l1/m2/telemetry', encode('telemetry', { seq: i, samples: [{ signal: 'q0', doubleValue: i, tsMs: Date.now() }] }), 0)
    await eventually(async () => (await svc.metrics.qos0Dropped.get()).values[0]?.value === 5)
    await gw.endAsync()

    await influxd.restart()
    await eventually(() => gen.stats().acked > ackedWhenFull + 500, 30_000)
    await gen.stop()
    await eventually(() => svc.journal.stats().unwrittenRecords === 0, 60_000)
    const result = await verifyStored(gen, (q) => influxQuery(influxd.url, svc.database, q), 5)
    await gen.disconnect()
    expect(result.lost).toBe(0)
    expect(result.acked).toBe(gen.stats().acked)
    expect(result.duplicates).toBe(0)
  }, 120_000)
})

describe('bad data refused by InfluxDB', () => {
  it('turns the one conflicting point into a rejection with InfluxDB\'s message and stores the rest', async () => {
    const now = Date.now()
    // Another writer made defect_code an integer field in this shard; our string value now conflicts.
    const seed = await fetch(`${influxd.url}/write?db=${svc.database}&precision=ms`, { method: 'POST', body: `quality,characteristic=seed,factory=fa,line=l1,machine=m1,zone=za defect_code=1i ${now - 5000}` })
    expect(seed.status).toBe(204)
    const gw = await connectGateway(svc.mqttUrl, 'gw-a', SECRETS.gwA)
    await publish(gw, 'iiot/v1/za/fa/l1/m1/quality', encode('quality', {
      seq: 1,
      inspections: [
        { characteristic: 'bore.diameter', value: 25.01, tsMs: now - 3000 },
        { characteristic: 'bore.diameter', value: 25.09, defectCode: 'OVERSIZE', tsMs: now - 2000 },
        { characteristic: 'bore.diameter', value: 25.02, tsMs: now - 1000 },
      ],
    }))
    await gw.endAsync()
    await eventually(() => svc.journal.stats().unwrittenRecords === 0)
    const rows = await influxQuery(influxd.url, svc.database, `SELECT "value" FROM quality WHERE characteristic = 'bore.diameter'`)
    expect(rows[0]?.values.map((v) => v[1])).toEqual([25.01, 25.02])
    // A refused point's rejection is kept in the background once the drainer has isolated it.
    const rejections = await eventually(async () => {
      const res = await fetch(`${svc.httpUrl}/api/v1/ingest/rejections?reason=refused_by_storage`, { headers: { authorization: `Bearer ${KEYS.all}` } })
      const body = (await res.json()) as { rejections: { message: string; factory: string; payloadBase64: string }[] }
      return body.rejections.length > 0 && body.rejections
    })
    expect(rejections).toHaveLength(1)
    expect(rejections[0]!.message).toMatch(/field type conflict/)
    expect(rejections[0]!.factory).toBe('fa')
    expect(Buffer.from(rejections[0]!.payloadBase64, 'base64').toString()).toContain('defect_code="OVERSIZE"')
  })
})
