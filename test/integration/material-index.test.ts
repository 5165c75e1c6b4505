import pino from 'pino'
import { Registry } from 'prom-client'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { lineMaterialHistory, lotId, type BenchLine } from '../../bench/lib/material-history.js'
import { createMaterialIndex } from '../../src/api/material-index.js'
import { nodeJson, traceLot, type TraceRequest } from '../../src/api/materials-trace.js'
import type { TraceDirection } from '../../src/domain/genealogy.js'
import { createInfluxMaterialsReader } from '../../src/storage/influx/materials-reader.js'
import { InfluxQLClient } from '../../src/storage/influx/influxql-client.js'
import type { AcceptedMessage } from '../../src/pipeline/pipeline.js'
import { startTestInfluxd } from '../helpers/influxd.js'

const DAY = 86_400_000
const HOUR = 3_600_000
const lines: BenchLine[] = ['l1', 'l2'].map((l) => ({ tags: `factory=f1,line=${l},machine=_,zone=z1`, line: l, machines: ['m0', 'm1', 'm2', 'm3'] }))
const days = 6
const from = Math.floor((Date.now() - 10 * DAY) / HOUR) * HOUR
let influxd: Awaited<ReturnType<typeof startTestInfluxd>>
let db: ReturnType<typeof createInfluxMaterialsReader>
/** Movement reads that reached InfluxDB through the index. */
let passedOn = 0
let index: ReturnType<typeof createMaterialIndex>

/** Writes line protocol straight to InfluxDB, as another writer (or an earlier run of the service) would have. */
async function write(text: string[]): Promise<void> {
  const res = await fetch(`${influxd.url}/write?db=idx&precision=ms`, { method: 'POST', body: text.join('\n') })
  expect(res.status).toBe(204)
}

const accepted = (text: string[]): AcceptedMessage => ({ topic: { scope: 'machine', zone: 'z1', factory: 'f1', line: 'l1', machine: 'm0', kind: 'material' }, gatewayId: 'gw', message: undefined, lines: text })

beforeAll(async () => {
  influxd = await startTestInfluxd()
  await fetch(`${influxd.url}/query`, { method: 'POST', body: new URLSearchParams({ q: 'CREATE DATABASE "idx"' }) })
  const history = lines.flatMap((l) => [...lineMaterialHistory(l, from, days)])
  // The first 4 days are in InfluxDB before the index loads; the rest arrives decoded, as the pipeline hands it on, part of it twice (a replay).
  const split = from + 4 * DAY
  const ts = (l: string) => Number(l.slice(l.lastIndexOf(' ') + 1))
  await write(history.filter((l) => ts(l) < split))
  db = createInfluxMaterialsReader(new InfluxQLClient({ url: influxd.url, flavor: 'v1', database: 'idx', retentionPolicy: 'autogen', username: undefined, password: undefined, org: undefined, bucket: undefined, token: undefined, timeoutMs: 10_000, gzip: false }))
  const counted: typeof db = { movements: (q, limit) => (passedOn++, db.movements(q, limit)), inspectionsOfLots: (...a) => db.inspectionsOfLots(...a) }
  index = createMaterialIndex({ db: counted, maxMovements: 100_000, horizonMs: 30 * DAY, registry: new Registry(), log: pino({ level: 'silent' }) })
  await index.load()
  const later = history.filter((l) => ts(l) >= split)
  await write(later)
  for (let i = 0; i < later.length; i += 7) index.listener(accepted(later.slice(i, i + 7)))
  for (let i = 0; i < later.length; i += 50) index.listener(accepted(later.slice(i, i + 3)))
}, 60_000)

afterAll(async () => {
  index?.close()
  await influxd?.dispose()
})

describe('the movement index in front of InfluxDB', () => {
  const trace = async (reader: typeof db, lot: string, direction: TraceDirection, startMs = from - HOUR) => {
    const r: TraceRequest = { scope: { factory: 'f1' }, lot, direction, depth: 5, startMs, endMs: Date.now(), maxLots: 500, maxRows: 100_000 }
    const t = await traceLot(reader, r)
    return { tree: nodeJson(t.tree.root!, t.inspections), truncated: t.truncated }
  }

  it('gives the same traces as InfluxDB, back and forward, for movements loaded at start and decoded since', async () => {
    expect(index.loaded).toBe(true)
    let lots = 0
    passedOn = 0
    for (const [stage, k, direction] of [[3, 16, 'back'], [3, 9, 'back'], [2, 13, 'back'], [0, 2, 'forward'], [1, 12, 'forward']] as const) {
      const lot = lotId(lines[k % 2]!, stage, k)
      const before = passedOn
      const fromIndex = await trace(index.reader, lot, direction)
      expect(passedOn).toBe(before)
      expect(fromIndex).toEqual(await trace(db, lot, direction))
      lots += JSON.stringify(fromIndex.tree).split('"lot":').length - 1
    }
    // The traces are not trivial: each reaches several levels.
    expect(lots).toBeGreaterThan(40)
  })

  it('answers from memory what it holds, and leaves older windows to InfluxDB', async () => {
    const q = { scope: { factory: 'f1' }, movements: ['produced' as const], lots: [lotId(lines[0]!, 3, 10)], startMs: from, endMs: Date.now() }
    passedOn = 0
    const inMemory = await index.reader.movements(q, 100)
    expect(passedOn).toBe(0)
    expect(inMemory.rows).toHaveLength(1)
    expect(inMemory).toEqual(await db.movements(q, 100))
    // A trace window older than the index's horizon gives InfluxDB's answer too.
    const lot = lotId(lines[1]!, 3, 15)
    expect(await trace(index.reader, lot, 'back', from - 40 * DAY)).toEqual(await trace(db, lot, 'back', from - 40 * DAY))
    expect(passedOn).toBeGreaterThan(0)
  })
})

describe('the movement index when InfluxDB is not there at start-up', () => {
  it('leaves reads to InfluxDB, then loads on a later try and answers from memory', async () => {
    let up = false
    let passed = 0
    const flaky: typeof db = {
      movements: (q, limit) => (passed++, up ? db.movements(q, limit) : Promise.reject(new Error('connect ECONNREFUSED'))),
      inspectionsOfLots: (...a) => db.inspectionsOfLots(...a),
    }
    const late = createMaterialIndex({ db: flaky, maxMovements: 100_000, horizonMs: 30 * DAY, registry: new Registry(), log: pino({ level: 'silent' }), retryMs: 50 })
    try {
      await late.load()
      expect(late.loaded).toBe(false)
      up = true
      const q = { scope: { factory: 'f1' }, movements: ['produced' as const], lots: [lotId(lines[0]!, 3, 10)], startMs: from, endMs: Date.now() }
      expect((await late.reader.movements(q, 10)).rows).toHaveLength(1)
      const deadline = Date.now() + 20_000
      while (!late.loaded && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50))
      expect(late.loaded).toBe(true)
      passed = 0
      expect(await late.reader.movements(q, 10)).toEqual(await db.movements(q, 10))
      expect(passed).toBe(0)
    } finally {
      late.close()
    }
  })
})
