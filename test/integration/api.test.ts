import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { KEYS, SECRETS } from '../helpers/fixtures.js'
import { connectGateway, encode, publish } from '../helpers/gateway.js'
import { startTestInfluxd } from '../helpers/influxd.js'
import { eventually, startTestService, type TestService, apiGet } from '../helpers/service.js'

let influxd: Awaited<ReturnType<typeof startTestInfluxd>>
let svc: TestService

beforeAll(async () => {
  influxd = await startTestInfluxd()
  svc = await startTestService(influxd.url)
  // One sample in each factory, so a leak across scopes would show.
  for (const [user, secret, topic] of [
    ['gw-a', SECRETS.gwA, 'iiot/v1/za/fa/l1/m1/telemetry'],
    ['gw-b', SECRETS.gwB, 'iiot/v1/zb/fb/l1/m1/telemetry'],
  ] as const) {
    const gw = await connectGateway(svc.mqttUrl, user, secret)
    await publish(gw, topic, encode('telemetry', { seq: 1, samples: [{ signal: 'temp', doubleValue: user === 'gw-a' ? 1 : 2, tsMs: Date.now() - 1000 }] }))
    await gw.endAsync()
  }
  await eventually(async () => (await call('/api/v1/telemetry/latest')).body.count === 2)
})

afterAll(async () => {
  await svc?.dispose()
  await influxd?.dispose()
})

const call = (path: string, key: string | null = KEYS.all) => apiGet(svc.httpUrl, path, key)

describe('API keys and scopes', () => {
  it('401 without a key or with a wrong one, as problem+json', async () => {
    for (const key of [null, 'ops.wrong-secret', 'nodot', 'nobody.x']) {
      const r = await call('/api/v1/telemetry/latest', key)
      expect(r.status).toBe(401)
      expect(r.type).toContain('application/problem+json')
      expect(r.body).toMatchObject({ status: 401, code: 'IIOT_ERR_API_UNAUTHENTICATED' })
    }
  })

  it('a factory-scoped key reads its own factory and gets 403 for another', async () => {
    const own = await call('/api/v1/telemetry/latest?factory=fa', KEYS.factoryA)
    expect(own.status).toBe(200)
    expect(own.body.values.map((v: any) => v.factory)).toEqual(['fa'])
    const other = await call('/api/v1/telemetry/latest?factory=fb', KEYS.factoryA)
    expect(other.status).toBe(403)
    expect(other.body.detail).toMatch(/may not read factory "fb"/)
    expect((await call('/api/v1/telemetry/latest?zone=zb', KEYS.factoryA)).status).toBe(403)
    expect((await call('/api/v1/records/telemetry?factory=fb', KEYS.factoryA)).status).toBe(403)
    expect((await call('/api/v1/telemetry/series?factory=fb&line=l1&machine=m1&signal=temp', KEYS.factoryA)).status).toBe(403)
  })

  it('a request that names no scope gets the key\'s own scope, never more', async () => {
    const r = await call('/api/v1/telemetry/latest', KEYS.factoryA)
    expect(r.body.values.map((v: any) => v.factory)).toEqual(['fa'])
    const z = await call('/api/v1/records/telemetry', KEYS.zone)
    expect(z.body.records.map((v: any) => v.tags.factory)).toEqual(['fb'])
  })

  it('service-wide ingest counters need a key with scope "all"', async () => {
    expect((await call('/api/v1/ingest/stats', KEYS.factoryA)).status).toBe(403)
    expect((await call('/api/v1/ingest/stats')).status).toBe(200)
  })
})

describe('bad requests', () => {
  it('400 problem+json naming the parameter', async () => {
    const cases: [string, string][] = [
      ['/api/v1/telemetry/series?factory=fa&line=l1&machine=m1&signal=temp&start=yesterday', 'start'],
      ['/api/v1/telemetry/series?factory=fa&line=l1&machine=m1&signal=temp&interval=5x', 'interval'],
      ['/api/v1/telemetry/series?factory=fa&line=l1&machine=m1&signal=temp&aggregate=avg', 'aggregate'],
      ['/api/v1/telemetry/series?factory=fa&line=l1&machine=m1', 'signal'],
      ['/api/v1/telemetry/latest?factory=FA', 'factory'],
      ['/api/v1/telemetry/latest?limit=0', 'limit'],
      ['/api/v1/telemetry/series?factory=fa&line=l1&machine=m1&signal=temp&start=2026-01-02T00:00:00Z&end=2026-01-01T00:00:00Z', 'end'],
      ['/api/v1/telemetry/series?factory=fa&line=l1&machine=m1&signal=temp&start=2020-01-01T00:00:00Z&end=2026-01-01T00:00:00Z', 'start'],
      ['/api/v1/telemetry/series?factory=fa&line=l1&machine=m1&signal=temp&interval=1s&start=2026-01-01T00:00:00Z&end=2026-01-02T00:00:00Z', 'interval'],
      ['/api/v1/telemetry/latest?line=l1', 'factory'],
      ['/api/v1/records/alarms', 'kind'],
    ]
    for (const [path, param] of cases) {
      const r = await call(path)
      expect(r.status, path).toBe(400)
      expect(r.type, path).toContain('application/problem+json')
      expect(r.body.code).toBe('IIOT_ERR_API_BAD_REQUEST')
      expect(r.body.errors?.map((e: any) => e.parameter), path).toContain(param)
      expect(r.body.detail, path).toContain(param)
    }
  })

  it('404 for ids that are not in the registry, and for unknown routes', async () => {
    expect((await call('/api/v1/telemetry/latest?factory=nope')).status).toBe(404)
    expect((await call('/api/v1/telemetry/latest?factory=fa&line=l9')).status).toBe(404)
    expect((await call('/api/v1/telemetry/latest?factory=fa&line=l1&machine=m9')).status).toBe(404)
    expect((await call('/api/v1/telemetry/latest?zone=zb&factory=fa')).status).toBe(404)
    const r = await call('/api/v1/nothing-here')
    expect(r.status).toBe(404)
    expect(r.body.code).toBe('IIOT_ERR_API_NOT_FOUND')
  })

  // The name pattern refuses quotes before any InfluxQL exists; that values stay data inside the
  // queries themselves is proven at the readers, in influxql-injection.test.ts.
  it('an injection attempt in a value is refused by the name pattern, or matches nothing', async () => {
    const r = await call(`/api/v1/telemetry/latest?factory=fa&signal=${encodeURIComponent("temp' OR '1'='1")}`)
    expect(r.status).toBe(400)
    const s = await call(`/api/v1/telemetry/latest?factory=fa&signal=${encodeURIComponent('temp/../x')}`)
    expect(s.status).toBe(200)
    expect(s.body.values).toEqual([])
  })
})

describe('ops endpoints', () => {
  it('/healthz, /metrics and /docs need no key', async () => {
    expect((await call('/healthz', null)).body).toEqual({ status: 'ok' })
    const metrics = await call('/metrics', null)
    expect(metrics.body).toMatch(/iiot_messages_accepted_total\{kind="telemetry"\} 2/)
    const docs = await call('/docs/json', null)
    expect(docs.status).toBe(200)
    expect(Object.keys(docs.body.paths)).toEqual(expect.arrayContaining(['/api/v1/telemetry/latest', '/api/v1/telemetry/series', '/api/v1/ingest/stats', '/api/v1/ingest/rejections', '/readyz']))
    expect((await call('/docs', null)).status).toBe(200)
  })

  it('/readyz follows InfluxDB: 503 while it is down, 200 again after', async () => {
    expect((await call('/readyz', null)).status).toBe(200)
    await influxd.stop()
    try {
      const down = await call('/readyz', null)
      expect(down.status).toBe(503)
      expect(down.body).toEqual({ status: 'not_ready', checks: { influxdb: false, journal: true, journalDiskSpace: true, journalWrites: true, writing: true } })
      const q = await call('/api/v1/telemetry/latest')
      expect(q.status).toBe(503)
      expect(q.body.detail).not.toMatch(/ECONNREFUSED|127\.0\.0\.1/)
    } finally {
      await influxd.restart()
    }
    expect((await call('/readyz', null)).status).toBe(200)
  })
})
