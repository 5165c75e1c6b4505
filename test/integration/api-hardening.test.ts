import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { KEYS } from '../helpers/fixtures.js'
import { startTestInfluxd } from '../helpers/influxd.js'
import { startTestService, type TestService } from '../helpers/service.js'

let influxd: Awaited<ReturnType<typeof startTestInfluxd>>
let svc: TestService
let cors: TestService

beforeAll(async () => {
  influxd = await startTestInfluxd()
  svc = await startTestService(influxd.url, { env: { API_RATE_LIMIT_PER_MIN: '20', API_AUTH_FAILURES_PER_MIN: '5' } })
  cors = await startTestService(influxd.url, { env: { API_CORS_ORIGINS: 'https://hmi.example' } })
})

afterAll(async () => {
  await svc?.dispose()
  await cors?.dispose()
  await influxd?.dispose()
})

const call = (base: string, path: string, headers: Record<string, string> = {}) => fetch(base + path, { headers })

describe('API hardening', () => {
  it('sends security headers, and no CORS headers unless configured', async () => {
    const res = await call(svc.httpUrl, '/api/v1/hierarchy', { authorization: `Bearer ${KEYS.all}`, origin: 'https://evil.example' })
    expect(res.status).toBe(200)
    expect(res.headers.get('x-content-type-options')).toBe('nosniff')
    expect(res.headers.get('strict-transport-security')).toContain('max-age')
    expect(res.headers.get('content-security-policy')).toContain("default-src 'self'")
    expect(res.headers.get('access-control-allow-origin')).toBeNull()
    const allowed = await call(cors.httpUrl, '/api/v1/hierarchy', { authorization: `Bearer ${KEYS.all}`, origin: 'https://hmi.example' })
    expect(allowed.headers.get('access-control-allow-origin')).toBe('https://hmi.example')
    const other = await call(cors.httpUrl, '/api/v1/hierarchy', { authorization: `Bearer ${KEYS.all}`, origin: 'https://evil.example' })
    expect(other.headers.get('access-control-allow-origin')).toBeNull()
  })

  it('limits requests per API key with 429 problem+json, without touching other keys', async () => {
    let last: Response | undefined
    for (let i = 0; i < 21; i++) last = await call(svc.httpUrl, '/api/v1/hierarchy', { authorization: `Bearer ${KEYS.factoryA}` })
    expect(last!.status).toBe(429)
    expect(last!.headers.get('content-type')).toContain('application/problem+json')
    expect(last!.headers.get('retry-after')).toMatch(/^\d+$/)
    expect(((await last!.json()) as { code: string }).code).toBe('IIOT_ERR_API_RATE_LIMITED')
    expect((await call(svc.httpUrl, '/api/v1/hierarchy', { authorization: `Bearer ${KEYS.zone}` })).status).toBe(200)
  })

  it('answers 401 for bad keys, then 429 to an address that keeps guessing, even with a right key', async () => {
    for (let i = 0; i < 5; i++) expect((await call(svc.httpUrl, '/api/v1/hierarchy', { authorization: `Bearer ops.guess-${i}` })).status).toBe(401)
    const blocked = await call(svc.httpUrl, '/api/v1/hierarchy', { authorization: `Bearer ops.guess-6` })
    expect(blocked.status).toBe(429)
    expect((await call(svc.httpUrl, '/api/v1/hierarchy', { authorization: `Bearer ${KEYS.all}` })).status).toBe(429)
  })

  it('refuses oversized requests and keeps 5xx bodies free of internals', async () => {
    const long = await call(cors.httpUrl, `/api/v1/telemetry/latest?signal=${'x'.repeat(20_000)}`, { authorization: `Bearer ${KEYS.all}` })
    expect([400, 414, 431]).toContain(long.status)
    await influxd.stop()
    try {
      const res = await call(cors.httpUrl, '/api/v1/telemetry/latest', { authorization: `Bearer ${KEYS.all}` })
      expect(res.status).toBe(503)
      const text = await res.text()
      expect(text).not.toMatch(/at .*\.ts:\d+|ECONNREFUSED|stack/)
    } finally {
      await influxd.restart()
    }
  })
})
