import type { MqttClient } from 'mqtt'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { KEYS, SECRETS } from '../helpers/fixtures.js'
import { connectGateway, encode, publish } from '../helpers/gateway.js'
import { startTestInfluxd } from '../helpers/influxd.js'
import { materialRegistry, materialWeek, materialWeekInspections } from '../helpers/material-week.js'
import { openApiChecker, type OpenApiDoc } from '../helpers/openapi.js'
import { eventually, startTestService, type TestService } from '../helpers/service.js'
import { sparkplugRegistry } from '../helpers/sparkplug.js'

// The API against its own OpenAPI document (/docs/json), as a contract tester from outside reads
// it: every documented operation is called with data behind it, and every answer (success and
// errors alike) must have a documented status and media type and match the documented schema.
let influxd: Awaited<ReturnType<typeof startTestInfluxd>>
let svc: TestService
let gw: MqttClient
let doc: OpenApiDoc
let check: ReturnType<typeof openApiChecker>

const H = 3_600_000
const BROKER_AUTH_SECRET = 'broker-secret-0123456789'
const DAY = 24 * H
const day0 = Math.floor(Date.now() / DAY) * DAY - 7 * DAY
const iso = (ms: number) => new Date(ms).toISOString()
const week = `start=${iso(day0 - DAY)}&end=${iso(Date.now())}`

beforeAll(async () => {
  influxd = await startTestInfluxd()
  const registry = { ...(await materialRegistry()), sparkplug: (await sparkplugRegistry()).sparkplug }
  // Every error case below fails a key check from this one address: more than the default 30 a minute.
  svc = await startTestService(influxd.url, { registry, env: { API_AUTH_FAILURES_PER_MIN: '1000', BROKER_AUTH_SECRET } })
  gw = await connectGateway(svc.mqttUrl, 'gw-a', SECRETS.gwA)
  let seq = 0
  const send = (topic: string, kind: Parameters<typeof encode>[0], body: Record<string, unknown>) => publish(gw, topic, encode(kind, { seq: ++seq, sentTsMs: Date.now(), ...body }))
  for (const m of materialWeek(day0)) await send(m.topic, 'material', { movements: m.movements })
  for (const q of materialWeekInspections(day0)) await send(q.topic, 'quality', { inspections: q.inspections })
  const now = Date.now()
  await send('iiot/v1/za/fa/l1/m1/state', 'state', { changes: [{ state: 1, tsMs: now - 3 * H }, { state: 6, reasonCode: 'jam', alarmCodes: ['E7'], tsMs: now - 2 * H }, { state: 1, tsMs: now - H }] })
  await send('iiot/v1/za/fa/l1/m1/production', 'production', { reports: [{ mode: 1, good: 300, reject: 4, tsMs: now - 30 * 60_000 }] })
  await send('iiot/v1/za/fa/l1/m1/telemetry', 'telemetry', { samples: [0, 1, 2].map((i) => ({ signal: 'spindle.temperature', doubleValue: 40 + i, unit: 'degC', tsMs: now - (3 - i) * 60_000 })) })
  await send('iiot/v1/za/fa/l1/m1/quality', 'quality', { inspections: [24.99, 25.01, 25.0, 25.02].map((value, i) => ({ characteristic: 'bore.diameter', value, lsl: 24.95, usl: 25.05, tsMs: now - (10 - i) * 60_000 })) })
  await send('iiot/v1/za/fa/_gateway/gw-a/connectivity', 'connectivity', { reports: [{ access: 1, rsrpDbm: -85, sinrDb: 18, rttMs: 9, tsMs: now - 60_000 }] })
  // One rejection to list: a payload that is not protobuf.
  await publish(gw, 'iiot/v1/za/fa/l1/m1/telemetry', Buffer.from('not protobuf'))
  await eventually(() => svc.journal.stats().unwrittenRecords === 0, 20_000)
  doc = (await (await fetch(`${svc.httpUrl}/docs/json`)).json()) as OpenApiDoc
  check = openApiChecker(doc)
}, 60_000)

afterAll(async () => {
  await gw?.endAsync()
  await svc?.dispose()
  await influxd?.dispose()
})

interface Answer {
  status: number
  type: string
  body: unknown
}

async function call(method: string, path: string, key: string | null, body?: unknown): Promise<Answer> {
  const ctl = new AbortController()
  const headers = { ...(key && { authorization: `Bearer ${key}` }), ...(body !== undefined && { 'content-type': 'application/json' }) }
  const res = await fetch(svc.httpUrl + path, { method, signal: ctl.signal, headers, body: body === undefined ? undefined : JSON.stringify(body) })
  const type = res.headers.get('content-type') ?? ''
  // The live stream never ends: its status and media type are the answer.
  if (type.startsWith('text/event-stream')) {
    ctl.abort()
    return { status: res.status, type, body: undefined }
  }
  const text = await res.text()
  return { status: res.status, type, body: type.includes('json') ? JSON.parse(text) : text }
}

const lot = encodeURIComponent('F-2')
/** [method, documented path, request path]: each documented operation with data behind it. */
const happy: [string, string, string][] = [
  ['GET', '/healthz', '/healthz'],
  ['GET', '/readyz', '/readyz'],
  ['GET', '/metrics', '/metrics'],
  ['GET', '/api/v1/hierarchy', '/api/v1/hierarchy'],
  ['GET', '/api/v1/equipment/state', '/api/v1/equipment/state?factory=fa'],
  ['GET', '/api/v1/equipment/alarms', '/api/v1/equipment/alarms'],
  ['GET', '/api/v1/equipment/timeline', `/api/v1/equipment/timeline?factory=fa&line=l1&machine=m1&start=${iso(Date.now() - 4 * H)}`],
  ['GET', '/api/v1/equipment/downtime', `/api/v1/equipment/downtime?factory=fa&start=${iso(Date.now() - 4 * H)}`],
  ['GET', '/api/v1/production/counts', `/api/v1/production/counts?factory=fa&interval=1h&start=${iso(Date.now() - 4 * H)}`],
  ['GET', '/api/v1/production/oee', `/api/v1/production/oee?factory=fa&line=l1&by=shift&start=${iso(Date.now() - 4 * H)}`],
  ['GET', '/api/v1/production/oee', '/api/v1/production/oee?factory=fa&line=l1&machine=m1'],
  ['GET', '/api/v1/quality/inspections', `/api/v1/quality/inspections?factory=fa&${week}`],
  ['GET', '/api/v1/quality/spc', '/api/v1/quality/spc?factory=fa&characteristic=bore.diameter'],
  ['GET', '/api/v1/telemetry/latest', '/api/v1/telemetry/latest?factory=fa&line=l1&machine=m1'],
  ['GET', '/api/v1/telemetry/series', '/api/v1/telemetry/series?factory=fa&line=l1&machine=m1&signal=spindle.temperature&interval=1m'],
  ['GET', '/api/v1/telemetry/series-multi', '/api/v1/telemetry/series-multi?factory=fa&line=l1&machine=m1&signals=spindle.temperature,motor.current&interval=1m'],
  ...['telemetry', 'state', 'production', 'quality', 'material', 'connectivity'].map((k): [string, string, string] => ['GET', '/api/v1/records/{kind}', `/api/v1/records/${k}?limit=5&${week}`]),
  ['GET', '/api/v1/connectivity/report', '/api/v1/connectivity/report'],
  ['GET', '/api/v1/connectivity/report', '/api/v1/connectivity/report?format=csv'],
  ['GET', '/api/v1/park/overview', '/api/v1/park/overview'],
  ['GET', '/api/v1/park/overview', '/api/v1/park/overview?format=csv'],
  ['GET', '/api/v1/ingest/stats', '/api/v1/ingest/stats'],
  ['GET', '/api/v1/ingest/rejections', '/api/v1/ingest/rejections?limit=5'],
  ['GET', '/api/v1/stream', '/api/v1/stream?kinds=state'],
  ['POST', '/api/v1/sparkplug/{group}/{edgeNode}/rebirth', '/api/v1/sparkplug/plant-a/edge-1/rebirth'],
  ['POST', '/api/v1/broker/auth', '/api/v1/broker/auth'],
  ['POST', '/api/v1/broker/acl', '/api/v1/broker/acl'],
  ['GET', '/api/v1/materials/lots/{lot}/trace', `/api/v1/materials/lots/${lot}/trace?direction=back&states=true&${week}`],
  ['GET', '/api/v1/materials/lots/{lot}/trace', `/api/v1/materials/lots/S-STEEL-2/trace?direction=forward&${week}`],
  ['GET', '/api/v1/materials/consumption', `/api/v1/materials/consumption?factory=fa&${week}`],
  ['GET', '/api/v1/materials/loaded', '/api/v1/materials/loaded?factory=fa'],
]

/** The external broker's endpoints take its secret and a JSON body (docs/scaling-out.md). */
const brokerBodies: Record<string, unknown> = {
  '/api/v1/broker/auth': { username: 'gw-a', password: SECRETS.gwA, clientid: 'gw-a-1' },
  '/api/v1/broker/acl': { username: 'gw-a', clientid: 'gw-a-1', topic: 'iiot/v1/za/fa/l1/m1/telemetry', action: 'publish' },
}

describe('the API against its OpenAPI document', () => {
  it('documents every operation with an operationId, a success answer and its errors as problem details', () => {
    const ids = new Set<string>()
    for (const [path, ops] of Object.entries(doc.paths)) {
      for (const [method, op] of Object.entries(ops)) {
        expect(op.operationId, `${method} ${path}`).toMatch(/^[a-z][A-Za-z]+$/)
        expect(ids.has(op.operationId!), `operationId ${op.operationId} is unique`).toBe(false)
        ids.add(op.operationId!)
        expect(Object.keys(op.responses).some((s) => s.startsWith('2')), `${method} ${path} has a 2xx`).toBe(true)
        expect(op.responses.default?.content?.['application/problem+json'], `${method} ${path} default`).toBeDefined()
        if (path.startsWith('/api/v1/') && !path.startsWith('/api/v1/broker/')) for (const s of ['401', '403', '429']) expect(op.responses[s]?.content?.['application/problem+json'], `${method} ${path} ${s}`).toBeDefined()
      }
    }
    // The console's pages are not API operations.
    expect(Object.keys(doc.paths).filter((p) => p === '/' || p.startsWith('/console'))).toEqual([])
  })

  it('answers every documented operation with data, each answer as documented', async () => {
    const called = new Set(happy.map(([m, t]) => `${m.toLowerCase()} ${t}`))
    const documented = Object.entries(doc.paths).flatMap(([p, ops]) => Object.keys(ops).map((m) => `${m} ${p}`))
    expect(documented.filter((d) => !called.has(d))).toEqual([])
    const problems: string[] = []
    for (const [method, template, path] of happy) {
      const broker = brokerBodies[template]
      const a = broker ? await call(method, path, BROKER_AUTH_SECRET, broker) : await call(method, path, KEYS.all)
      if (a.status >= 300) problems.push(`${method} ${path}: ${a.status} ${JSON.stringify(a.body).slice(0, 200)}`)
      problems.push(...check(method, template, a.status, a.type, a.body))
    }
    expect(problems).toEqual([])
    expect(Number(String((await call('GET', '/metrics', null)).body).match(/iiot_api_schema_mismatches_total\{[^}]*\} (\d+)/)?.[1] ?? 0)).toBe(0)
  })

  it('answers bad parameters, missing keys, foreign scopes and unknown machines with documented problems', async () => {
    const problems: string[] = []
    const seen = new Set<number>()
    for (const [method, template, path] of happy.filter(([, t]) => t.startsWith('/api/v1/') && !brokerBodies[t])) {
      const sep = path.includes('?') ? '&' : '?'
      const cases: [string, string | null, number][] = [
        [`${path}${sep}nonsense=1`, KEYS.all, 400],
        [path, null, 401],
        [path, 'ops.wrong-secret-0123456789', 401],
      ]
      if (path.includes('factory=fa')) cases.push([path.replace('factory=fa', 'factory=fb'), KEYS.factoryA, 403], [path.replace('factory=fa', 'factory=nowhere'), KEYS.all, 404])
      for (const [p, key, want] of cases) {
        const a = await call(method, p, key)
        seen.add(a.status)
        if (a.status !== want) problems.push(`${method} ${p}: ${a.status}, expected ${want}`)
        if (!a.type.startsWith('application/problem+json')) problems.push(`${method} ${p}: ${a.type}, expected application/problem+json`)
        problems.push(...check(method, template, a.status, a.type, a.body))
      }
    }
    expect(problems).toEqual([])
    expect([...seen].sort()).toEqual([400, 401, 403, 404])
    for (const template of Object.keys(brokerBodies)) {
      const denied = await call('POST', template, 'not-the-broker-secret', brokerBodies[template])
      expect([denied.status, denied.body]).toEqual([401, { result: 'deny' }])
      expect(check('POST', template, denied.status, denied.type, denied.body)).toEqual([])
    }
  })
})
