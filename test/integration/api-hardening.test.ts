import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { KEYS } from '../helpers/fixtures.js'
import { startTestInfluxd } from '../helpers/influxd.js'
import { startTestService, type TestService } from '../helpers/service.js'

let influxd: Awaited<ReturnType<typeof startTestInfluxd>>
let svc: TestService
let cors: TestService
// Behind a proxy on loopback: X-Forwarded-For names the client, so each test can be its own client address.
let proxied: TestService

beforeAll(async () => {
  influxd = await startTestInfluxd()
  svc = await startTestService(influxd.url, { env: { API_RATE_LIMIT_PER_MIN: '20', API_AUTH_FAILURES_PER_MIN: '5' } })
  cors = await startTestService(influxd.url, { env: { API_CORS_ORIGINS: 'https://hmi.example' } })
  proxied = await startTestService(influxd.url, { env: { API_AUTH_FAILURES_PER_MIN: '5', API_TRUST_PROXY: '127.0.0.1' } })
})

afterAll(async () => {
  await svc?.dispose()
  await cors?.dispose()
  await proxied?.dispose()
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
    expect(allowed.headers.get('access-control-expose-headers')).toContain('Retry-After')
  })

  it('the live stream carries the CORS headers REST answers do; no page is told to upgrade to an https:// the service does not serve', async () => {
    const abort = new AbortController()
    const stream = await fetch(cors.httpUrl + '/api/v1/stream', { headers: { authorization: `Bearer ${KEYS.all}`, origin: 'https://hmi.example' }, signal: abort.signal })
    expect(stream.status).toBe(200)
    expect(stream.headers.get('access-control-allow-origin')).toBe('https://hmi.example')
    abort.abort()
    await stream.body?.cancel().catch(() => undefined)
    for (const path of ['/api/v1/hierarchy', '/docs/static/index.html']) {
      const res = await call(svc.httpUrl, path, { authorization: `Bearer ${KEYS.all}` })
      expect(res.status, path).toBe(200)
      expect(res.headers.get('content-security-policy'), path).toContain("default-src 'self'")
      expect(res.headers.get('content-security-policy'), path).not.toContain('upgrade-insecure-requests')
    }
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

  it('answers 401 for bad keys, then 429 with Retry-After to an address that keeps guessing one key; a proven key still works there', async () => {
    expect((await call(svc.httpUrl, '/api/v1/hierarchy', { authorization: `Bearer ${KEYS.all}` })).status).toBe(200)
    for (let i = 1; i <= 5; i++) expect((await call(svc.httpUrl, '/api/v1/hierarchy', { authorization: `Bearer ops.guess-${i}` })).status).toBe(401)
    // Without API_TRUST_PROXY a forwarded-for header is not believed: it cannot dodge the throttle.
    const blocked = await call(svc.httpUrl, '/api/v1/hierarchy', { authorization: 'Bearer ops.guess-6', 'x-forwarded-for': '203.0.113.99' })
    expect(blocked.status).toBe(429)
    expect(blocked.headers.get('content-type')).toContain('application/problem+json')
    expect(((await blocked.json()) as { code: string }).code).toBe('IIOT_ERR_API_RATE_LIMITED')
    const retryAfter = Number(blocked.headers.get('retry-after'))
    expect(retryAfter).toBeGreaterThanOrEqual(1)
    expect(retryAfter).toBeLessThanOrEqual(60)
    // An unknown id is counted exactly like a known one: the throttle does not tell them apart either.
    for (let i = 1; i <= 5; i++) expect((await call(svc.httpUrl, '/api/v1/hierarchy', { authorization: `Bearer nobody.guess-${i}` })).status).toBe(401)
    expect((await call(svc.httpUrl, '/api/v1/hierarchy', { authorization: 'Bearer nobody.guess-6' })).status).toBe(429)
    // The right key of the guessed id, already proven by a full check, still gets in; guesses do not.
    expect((await call(svc.httpUrl, '/api/v1/hierarchy', { authorization: `Bearer ${KEYS.all}` })).status).toBe(200)
    expect((await call(svc.httpUrl, '/api/v1/hierarchy', { authorization: 'Bearer ops.guess-7' })).status).toBe(429)
  })

  it('an address spraying many key ids is throttled as a whole after four times the per-key limit', async () => {
    const sprayer = { 'x-forwarded-for': '203.0.113.50' }
    for (let i = 0; i < 20; i++) expect((await call(proxied.httpUrl, '/api/v1/hierarchy', { ...sprayer, authorization: `Bearer id${i}.guess` })).status).toBe(401)
    const blocked = await call(proxied.httpUrl, '/api/v1/hierarchy', { ...sprayer, authorization: 'Bearer id20.guess' })
    expect(blocked.status).toBe(429)
    expect(blocked.headers.get('retry-after')).toMatch(/^\d+$/)
    // Checking a never-seen key there would be one more free guess: not until the minute is over.
    expect((await call(proxied.httpUrl, '/api/v1/hierarchy', { ...sprayer, authorization: `Bearer ${KEYS.factoryA}` })).status).toBe(429)
  })

  it('requests without a key get 401 and never count as failed guesses', async () => {
    const client = { 'x-forwarded-for': '198.51.100.7' }
    for (let i = 0; i < 8; i++) {
      for (const authorization of [undefined, 'Basic b3BzOng=', 'Bearer', 'Bearer no-dot-here']) {
        const res = await call(proxied.httpUrl, '/api/v1/hierarchy', authorization ? { ...client, authorization } : client)
        expect(res.status).toBe(401)
      }
    }
    expect((await call(proxied.httpUrl, '/api/v1/hierarchy', { ...client, authorization: 'Bearer ops.wrong' })).status).toBe(401)
    expect((await call(proxied.httpUrl, '/api/v1/hierarchy', { ...client, authorization: `Bearer ${KEYS.factoryA}` })).status).toBe(200)
  })

  it('with API_TRUST_PROXY the throttle keys on the client named by X-Forwarded-For', async () => {
    const guesser = { 'x-forwarded-for': '203.0.113.1' }
    const neighbour = { 'x-forwarded-for': '203.0.113.2' }
    for (let i = 0; i < 5; i++) expect((await call(proxied.httpUrl, '/api/v1/hierarchy', { ...guesser, authorization: `Bearer board.guess-${i}` })).status).toBe(401)
    const blocked = await call(proxied.httpUrl, '/api/v1/hierarchy', { ...guesser, authorization: 'Bearer board.guess-5' })
    expect(blocked.status).toBe(429)
    expect(blocked.headers.get('retry-after')).toMatch(/^\d+$/)
    // Guessing the board key does not hold back another key, never checked before, from the same client address.
    expect((await call(proxied.httpUrl, '/api/v1/hierarchy', { ...guesser, authorization: `Bearer ${KEYS.all}` })).status).toBe(200)
    // Another client behind the same proxy is not held back by the guesser.
    expect((await call(proxied.httpUrl, '/api/v1/hierarchy', { ...neighbour, authorization: 'Bearer board.typo' })).status).toBe(401)
    expect((await call(proxied.httpUrl, '/api/v1/hierarchy', { ...neighbour, authorization: `Bearer ${KEYS.zone}` })).status).toBe(200)
    // Once proven, the guessed key itself works from the guesser's address too.
    expect((await call(proxied.httpUrl, '/api/v1/hierarchy', { ...guesser, authorization: `Bearer ${KEYS.zone}` })).status).toBe(200)
  })

  it('answers 400 naming the parameter for times InfluxDB cannot store, durations that overflow its own, blank numbers and windows in the future', async () => {
    const machine = 'factory=fa&line=l1&machine=m1'
    const future = `start=${new Date(Date.now() + 86_400_000).toISOString()}&end=${new Date(Date.now() + 2 * 86_400_000).toISOString()}`
    const cases: [string, string][] = [
      [`/api/v1/telemetry/series?${machine}&signal=s&start=1600-01-01T00:00:00Z&end=1600-01-02T00:00:00Z`, 'start'],
      [`/api/v1/equipment/timeline?${machine}&start=9999-01-01T00:00:00Z&end=9999-01-02T00:00:00Z`, 'start'],
      [`/api/v1/telemetry/series?${machine}&signal=s&interval=999999999d`, 'interval'],
      [`/api/v1/quality/spc?factory=fa&characteristic=bore&lsl=&usl=25.05`, 'lsl'],
      [`/api/v1/quality/spc?factory=fa&characteristic=bore&usl=%20`, 'usl'],
      [`/api/v1/equipment/timeline?${machine}&${future}`, 'start'],
      [`/api/v1/equipment/downtime?factory=fa&${future}`, 'start'],
      // A misspelt parameter is not ignored (the answer would be for every factory).
      ['/api/v1/equipment/state?factroy=fa', 'factroy'],
      ['/api/v1/ingest/rejections?reason=decode_error&colour=red', 'colour'],
    ]
    for (const [path, param] of cases) {
      const res = await call(cors.httpUrl, path, { authorization: `Bearer ${KEYS.all}` })
      expect(res.status, path).toBe(400)
      expect(JSON.stringify(await res.json()), path).toContain(param)
    }
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
