import { join } from 'node:path'
import type { FastifyInstance } from 'fastify'
import pino from 'pino'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { RejectionStore } from '../../src/pipeline/rejection-store.js'
import { buildTestApi } from '../helpers/api-app.js'
import { KEYS } from '../helpers/fixtures.js'
import { useTempDir } from '../helpers/temp-dir.js'

// GET /ingest/rejections over a real rejection store: the zone and factory filters beside the key's own scope.
let dir = ''
useTempDir('iiot-rejections-api-', (d) => (dir = d))
let store: RejectionStore
let app: FastifyInstance

beforeEach(async () => {
  store = await RejectionStore.open(join(dir, 'rejections.jsonl'), { max: 100, payloadBytes: 64 }, pino({ level: 'silent' }))
  const payload = Buffer.from([1, 2, 3])
  // Oldest first: ids 1-4.
  await store.add({ topic: 'iiot/v1/za/fa/l1/m1/telemetry', gateway: 'gw-a', zone: 'za', factory: 'fa', reason: 'decode_error', message: 'bad', payload })
  await store.add({ topic: 'iiot/v1/zb/fb/l1/m1/telemetry', gateway: 'gw-b', zone: 'zb', factory: 'fb', reason: 'decode_error', message: 'bad', payload })
  // A topic that does not parse names no zone or factory.
  await store.add({ topic: 'iiot/v1/za/fa/l1/m1/vibration', gateway: 'gw-a', zone: undefined, factory: undefined, reason: 'bad_topic', message: 'unknown kind "vibration"', payload })
  await store.add({ topic: 'iiot/v1/za/fa/l1/m2/state', gateway: 'gw-a', zone: 'za', factory: 'fa', reason: 'invalid_enum', message: 'bad state', payload })
  app = await buildTestApi({ deps: { rejections: store } })
})

afterEach(async () => {
  await app?.close()
  await store?.close()
})

async function list(query: string, key: string = KEYS.all): Promise<{ status: number; ids: number[]; body: any }> {
  const res = await app.inject({ method: 'GET', url: `/api/v1/ingest/rejections${query}`, headers: { authorization: `Bearer ${key}` } })
  const body = res.json()
  return { status: res.statusCode, ids: res.statusCode === 200 ? body.rejections.map((r: { id: number }) => r.id) : [], body }
}

describe('GET /ingest/rejections by zone and factory', () => {
  it('an all-scope key sees every rejection without a filter, the topic-less one included', async () => {
    expect((await list('')).ids).toEqual([4, 3, 2, 1])
  })

  it('factory= and zone= give that factory\'s or zone\'s rejections, and leave out those that name none', async () => {
    expect((await list('?factory=fa')).ids).toEqual([4, 1])
    expect((await list('?factory=fb')).ids).toEqual([2])
    expect((await list('?zone=za')).ids).toEqual([4, 1])
    expect((await list('?zone=za&factory=fa&reason=decode_error')).ids).toEqual([1])
    expect((await list('?factory=fa&limit=1')).body).toMatchObject({ rejections: [{ id: 4, factory: 'fa' }], next: 4 })
    expect((await list('?factory=fa&before=4')).ids).toEqual([1])
  })

  it('a scoped key may narrow to its own factory, and gets 403 for another', async () => {
    expect((await list('', KEYS.factoryA)).ids).toEqual([4, 1])
    expect((await list('?factory=fa', KEYS.factoryA)).ids).toEqual([4, 1])
    expect((await list('?zone=za', KEYS.factoryA)).ids).toEqual([4, 1])
    const other = await list('?factory=fb', KEYS.factoryA)
    expect(other.status).toBe(403)
    expect(other.body).toMatchObject({ code: 'IIOT_ERR_API_FORBIDDEN', detail: expect.stringContaining('factory "fb"') })
    expect((await list('?zone=zb', KEYS.factoryA)).status).toBe(403)
    // The zone key (zb) sees fb only.
    expect((await list('?factory=fb', KEYS.zone)).ids).toEqual([2])
    expect((await list('?factory=fa', KEYS.zone)).status).toBe(403)
  })

  it('ids are checked as elsewhere: malformed 400, not in the registry 404', async () => {
    const bad = await list('?factory=Not%20A%20Slug')
    expect(bad.status).toBe(400)
    expect(bad.body.errors).toEqual([expect.objectContaining({ parameter: 'factory' })])
    expect((await list('?factory=f-unknown')).status).toBe(404)
    expect((await list('?zone=zb&factory=fa')).status).toBe(404)
  })
})
