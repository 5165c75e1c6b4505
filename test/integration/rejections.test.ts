import { mkdir, rm } from 'node:fs/promises'
import { join } from 'node:path'
import type { MqttClient } from 'mqtt'
import { byLabel } from '../../src/metrics/metrics.js'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { KEYS, SECRETS } from '../helpers/fixtures.js'
import { connectGateway, encode, publish } from '../helpers/gateway.js'
import { influxQuery, startTestInfluxd } from '../helpers/influxd.js'
import { eventually, startTestService, type TestService, apiGet } from '../helpers/service.js'

// Bad payloads are acknowledged, counted by reason and kept; the good ones around them are stored.
let influxd: Awaited<ReturnType<typeof startTestInfluxd>>
let svc: TestService
let gw: MqttClient

beforeAll(async () => {
  influxd = await startTestInfluxd()
  svc = await startTestService(influxd.url, { env: { INGEST_MAX_BATCH: '100', INGEST_MAX_FUTURE_SKEW_MS: '60000', MQTT_MAX_PAYLOAD_BYTES: '4096' } })
  gw = await connectGateway(svc.mqttUrl, 'gw-a', SECRETS.gwA)
})

afterAll(async () => {
  await gw?.endAsync()
  await svc?.dispose()
  await influxd?.dispose()
})

const get = async (path: string, key: string = KEYS.all): Promise<any> => (await apiGet(svc.httpUrl, path, key)).body

const good = (signal: string, seq: number) => encode('telemetry', { seq, samples: [{ signal, doubleValue: seq, tsMs: Date.now() - 1000 }] })
const T = 'iiot/v1/za/fa/l1/m1/telemetry'

describe('rejections', () => {
  const cases: { name: string; topic: string; payload: () => Buffer; reason: string; message: RegExp }[] = [
    { name: 'malformed protobuf', topic: T, payload: () => Buffer.from([0x0a, 0xff, 0xff, 0xff, 0x0f, 0x01]), reason: 'decode_error', message: /not a valid iiot\.v1\.Telemetry/ },
    { name: 'unknown machine', topic: 'iiot/v1/za/fa/l1/m9/telemetry', payload: () => good('x', 1), reason: 'unknown_machine', message: /za\/fa\/l1\/m9 is not in the registry/ },
    { name: 'NaN value', topic: T, payload: () => encode('telemetry', { seq: 1, samples: [{ signal: 'x', doubleValue: NaN, tsMs: Date.now() }] }), reason: 'non_finite_number', message: /not a finite number/ },
    { name: 'future timestamp', topic: T, payload: () => encode('telemetry', { seq: 1, samples: [{ signal: 'x', doubleValue: 1, tsMs: Date.now() + 3_600_000 }] }), reason: 'future_timestamp', message: /in the future/ },
    {
      name: 'oversized batch',
      topic: T,
      payload: () => encode('telemetry', { seq: 1, samples: Array.from({ length: 101 }, (_, i) => ({ signal: `s${i}`, doubleValue: i, tsMs: Date.now() })) }),
      reason: 'batch_too_large',
      message: /more than 100/,
    },
    { name: 'unknown state enum', topic: 'iiot/v1/za/fa/l1/m1/state', payload: () => encode('state', { seq: 1, changes: [{ state: 0, tsMs: Date.now() }] }), reason: 'invalid_enum', message: /machine state 0/ },
    { name: 'payload over the size limit', topic: T, payload: () => Buffer.alloc(5000, 1), reason: 'payload_too_large', message: /5000 bytes exceeds 4096/ },
    { name: 'unknown kind', topic: 'iiot/v1/za/fa/l1/m1/vibration', payload: () => good('x', 1), reason: 'bad_topic', message: /unknown kind "vibration"/ },
  ]

  it('rejects each bad message with its reason while the messages around it are stored', async () => {
    let seq = 0
    for (const c of cases) {
      await publish(gw, T, good('before', ++seq))
      await publish(gw, c.topic, c.payload())
      await publish(gw, T, good('after', ++seq))
    }
    // The connection survived every bad payload, and all good ones landed.
    expect(gw.connected).toBe(true)
    await eventually(async () => {
      const s = await influxQuery(influxd.url, svc.database, `SELECT count("value") FROM telemetry WHERE machine = 'm1'`)
      return s[0]?.values[0]?.[1] === 2 * cases.length
    })
    // The journal is through only once every batch's rejections are kept too.
    await eventually(() => svc.journal.stats().unwrittenRecords === 0)

    const { rejections } = await get('/api/v1/ingest/rejections?limit=100')
    expect(rejections).toHaveLength(cases.length)
    const newestFirst = [...cases].reverse()
    rejections.forEach((r: any, i: number) => {
      const c = newestFirst[i]!
      expect(r.reason, c.name).toBe(c.reason)
      expect(r.message, c.name).toMatch(c.message)
      expect(r.topic).toBe(c.topic)
      expect(r.gateway).toBe('gw-a')
      expect(Buffer.from(r.payloadBase64, 'base64').length).toBe(Math.min(r.payloadBytes, 1024))
    })

    const stats = await get('/api/v1/ingest/stats')
    for (const c of cases) expect(stats.rejected[c.reason], c.reason).toBeGreaterThanOrEqual(1)
    expect(stats.accepted.telemetry).toBe(2 * cases.length)
  })

  it('closes the connection of a client publishing on a topic deeper than the limit, others unaffected', async () => {
    const deep = await connectGateway(svc.mqttUrl, 'gw-a', SECRETS.gwA)
    const closed = new Promise<void>((resolve) => deep.once('close', () => resolve()))
    deep.publish('iiot/v1/za/fa/' + 'x/'.repeat(20) + 'telemetry', good('deep', 1), { qos: 1 })
    await closed
    deep.end(true)
    expect(gw.connected).toBe(true)
  })

  it('filters and pages the rejection list', async () => {
    const page1 = await get('/api/v1/ingest/rejections?limit=3')
    expect(page1.rejections).toHaveLength(3)
    const page2 = await get(`/api/v1/ingest/rejections?limit=3&before=${page1.next}`)
    expect(page2.rejections[0].id).toBeLessThan(page1.rejections[2].id)
    const only = await get('/api/v1/ingest/rejections?reason=decode_error')
    expect(only.rejections.map((r: any) => r.reason)).toEqual(['decode_error'])
  })

  it('a factory-scoped key sees only its own factory\'s rejections', async () => {
    const ownKey = await get('/api/v1/ingest/rejections', KEYS.factoryA)
    expect(ownKey.rejections.length).toBeGreaterThan(0)
    expect(ownKey.rejections.every((r: any) => r.factory === 'fa')).toBe(true)
    const otherZone = await get('/api/v1/ingest/rejections', KEYS.zone)
    expect(otherZone.rejections).toEqual([])
  })

  it('keeps rejections across a restart', async () => {
    const { RejectionStore } = await import('../../src/pipeline/rejection-store.js')
    const pino = (await import('pino')).default
    const reopened = await RejectionStore.open(`${svc.dir}/rejections.jsonl`, { max: 1000, payloadBytes: 1024 }, pino({ level: 'silent' }))
    expect(reopened.list({ limit: 100 }).map((r) => r.reason)).toEqual(svc.rejections.list({ limit: 100 }).map((r) => r.reason))
  })
})

describe('a rejection acknowledged is a rejection kept', () => {
  it('an acknowledged bad message whose rejection cannot be made durable yet is held in the journal until it is kept, then kept once', async () => {
    // Its own service: two rejections kept, so the file is compacted every few.
    const small = await startTestService(influxd.url, { env: { REJECTIONS_MAX: '2' } })
    const clients: MqttClient[] = []
    try {
      const bad = (n: number) => Buffer.from([0x0a, 0xff, 0xff, 0xff, 0x0f, n])
      const first = await connectGateway(small.mqttUrl, 'gw-a', SECRETS.gwA)
      clients.push(first)
      for (let n = 1; n <= 4; n++) await publish(first, T, bad(n))
      await eventually(async () => (await byLabel(small.metrics.rejected, 'reason')).decode_error === 4)

      // The file holds 2 * REJECTIONS_MAX lines: the next rejection compacts it, and a directory
      // where the file was makes that fail (permissions would not stop root).
      const file = join(small.dir, 'rejections.jsonl')
      await rm(file)
      await mkdir(file)
      // Acknowledged: the message is in the journal, which is what a PUBACK promises.
      await publish(first, T, bad(5))
      await new Promise((r) => setTimeout(r, 1500))
      expect(await byLabel(small.metrics.rejected, 'reason')).toEqual({ decode_error: 4 })
      expect(small.rejections.list({ limit: 10 }).map((r) => Buffer.from(r.payloadBase64, 'base64').at(-1))).toEqual([4, 3])
      // Not kept yet, so the journal keeps it: the checkpoint does not pass it.
      expect(small.journal.stats().unwrittenRecords).toBeGreaterThan(0)
      expect(first.connected).toBe(true)

      // The fault cleared: the rejection is kept (retried every second), counted once, and the journal moves on.
      await rm(file, { recursive: true })
      await eventually(async () => (await byLabel(small.metrics.rejected, 'reason')).decode_error === 5, 10_000)
      await eventually(() => small.journal.stats().unwrittenRecords === 0, 10_000)
      const lastBytes = (rs: { payloadBase64: string }[]) => rs.map((r) => Buffer.from(r.payloadBase64, 'base64').at(-1))
      expect(lastBytes(small.rejections.list({ limit: 10 }))).toEqual([5, 4])
      const { RejectionStore } = await import('../../src/pipeline/rejection-store.js')
      const pino = (await import('pino')).default
      const reopened = await RejectionStore.open(file, { max: 2, payloadBytes: 1024 }, pino({ level: 'silent' }))
      expect(lastBytes(reopened.list({ limit: 10 }))).toEqual([5, 4])
      await reopened.close()
    } finally {
      for (const c of clients) await c.endAsync(!c.connected)
      await small.dispose()
    }
  })
})
