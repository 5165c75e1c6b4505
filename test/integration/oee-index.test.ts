import pino from 'pino'
import { Registry } from 'prom-client'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createOeeIndex } from '../../src/api/oee-index.js'
import type { AcceptedMessage } from '../../src/pipeline/pipeline.js'
import { createInfluxManufacturingReader } from '../../src/storage/influx/manufacturing-reader.js'
import { InfluxQLClient } from '../../src/storage/influx/influxql-client.js'
import type { ManufacturingReader, Scope } from '../../src/storage/ports.js'
import { startTestInfluxd } from '../helpers/influxd.js'

const DAY = 86_400_000
const HOUR = 3_600_000
const MIN = 60_000
const now = Date.now()
const from = Math.floor((now - 3 * DAY) / MIN) * MIN
/** What the index was told before the load: the last day arrives decoded after it. */
const split = now - DAY
const machines = [['l1', 'm1'], ['l1', 'm2'], ['l2', 'm1']] as const
const STATES = ['running', 'idle', 'stopped', 'setup'] as const

let influxd: Awaited<ReturnType<typeof startTestInfluxd>>
let db: ManufacturingReader
let index: ReturnType<typeof createOeeIndex>
/** Reads that reached InfluxDB through the index. */
const passed = { states: 0, counts: 0 }

/** A seeded generator, so a failure can be run again. */
function random(seed: number) {
  let s = seed
  return () => ((s = (s * 1_103_515_245 + 12_345) % 2_147_483_648) / 2_147_483_648)
}

/** Line protocol for the machines' history, as the service writes it: production each minute, states every 5-35 min. */
function history(rnd: () => number): string[] {
  const out: string[] = []
  for (const [line, machine] of machines) {
    const tags = `factory=f1,line=${line},machine=${machine},zone=z1`
    let nextState = from
    for (let t = from; t < now - MIN; t += MIN) {
      if (t >= nextState) {
        const state = STATES[Math.floor(rnd() * STATES.length)]!
        const reason = state === 'stopped' ? ',reason="jam"' : ''
        const alarms = rnd() < 0.2 ? ',alarms="A1,A2"' : ''
        out.push(`state,${tags} state="${state}"${reason}${alarms},since_ms=${t}i,seq=1i ${t}`)
        nextState = t + (5 + Math.floor(rnd() * 30)) * MIN
      }
      const good = Math.floor(rnd() * 20)
      const reject = Math.floor(rnd() * 3)
      out.push(`production,${tags} good=${good}i,reject=${reject}i,total=${good + reject}i,seq=1i ${t + Math.floor(rnd() * 1000)}`)
    }
  }
  return out
}

async function write(text: string[]): Promise<void> {
  for (let i = 0; i < text.length; i += 5000) {
    const res = await fetch(`${influxd.url}/write?db=oee&precision=ms`, { method: 'POST', body: text.slice(i, i + 5000).join('\n') })
    expect(res.status).toBe(204)
  }
}

const accepted = (text: string[]): AcceptedMessage => ({ topic: { scope: 'machine', zone: 'z1', factory: 'f1', line: 'l1', machine: 'm1', kind: 'production' }, gatewayId: 'gw', message: undefined, lines: text })
const ts = (l: string) => Number(l.slice(l.lastIndexOf(' ') + 1))

beforeAll(async () => {
  influxd = await startTestInfluxd()
  await fetch(`${influxd.url}/query`, { method: 'POST', body: new URLSearchParams({ q: 'CREATE DATABASE "oee"' }) })
  const all = history(random(7))
  await write(all.filter((l) => ts(l) < split))
  const client = new InfluxQLClient({ url: influxd.url, flavor: 'v1', database: 'oee', retentionPolicy: 'autogen', username: undefined, password: undefined, org: undefined, bucket: undefined, token: undefined, timeoutMs: 10_000, gzip: false })
  db = createInfluxManufacturingReader(client)
  const counted: ManufacturingReader = { ...db, stateHistory: (...a) => (passed.states++, db.stateHistory(...a)), countsInWindows: (...a) => (passed.counts++, db.countsInWindows(...a)) }
  // Two days held: the third day back is InfluxDB's alone.
  index = createOeeIndex({ db: counted, horizonMs: 2 * DAY, lookbackMs: 30 * DAY, registry: new Registry(), log: pino({ level: 'silent' }) })
  // Lines decoded while the load runs wait for it.
  const later = all.filter((l) => ts(l) >= split)
  const first = later.slice(0, 200)
  await write(first)
  index.listener(accepted(first))
  await index.load()
  const rest = later.slice(200)
  await write(rest)
  for (let i = 0; i < rest.length; i += 9) index.listener(accepted(rest.slice(i, i + 9)))
  // A replay after a crash: the same lines again, some of them, which InfluxDB stores once.
  for (let i = 0; i < rest.length; i += 400) index.listener(accepted(rest.slice(i, i + 2)))
  // A point overwritten with other counts, and one that arrives late, older than its machine's newest.
  const overwrite = rest.findLast((l) => l.startsWith('production,factory=f1,line=l2'))!.replace(/good=\d+i/, 'good=777i')
  const late = `production,factory=f1,line=l1,machine=m2,zone=z1 good=55i,reject=5i,total=60i,seq=2i ${now - 5 * HOUR + 17}`
  await write([overwrite, late])
  index.listener(accepted([overwrite, late]))
}, 120_000)

afterAll(async () => {
  index?.close()
  await influxd?.dispose()
})

/** Both readers' counts without the machines whose every window sums to zero (InfluxDB leaves out the ones without points). */
async function counts(reader: ManufacturingReader, scope: Scope, windows: { startMs: number; endMs: number }[]) {
  const out = await reader.countsInWindows(scope, windows)
  return new Map([...out].filter(([, c]) => c.some((x) => x.good !== 0 || x.reject !== 0)))
}

describe('the OEE index in front of InfluxDB', () => {
  it('loaded what InfluxDB held, and took what came meanwhile', () => {
    expect(index.loaded).toBe(true)
  })

  it('sums the same counts as InfluxDB over windows of every kind, from memory where the hours are whole', async () => {
    const rnd = random(11)
    const scopes: Scope[] = [{ factory: 'f1' }, { factory: 'f1', line: 'l1' }, { factory: 'f1', line: 'l2', machine: 'm1' }, { zone: 'z1' }]
    passed.counts = 0
    let answered = 0
    for (let k = 0; k < 60; k++) {
      const aligned = k % 3 === 0
      const startMs = aligned ? Math.floor((now - rnd() * 2.8 * DAY) / HOUR) * HOUR : Math.floor(now - rnd() * 2.8 * DAY)
      const endMs = k % 4 === 0 ? now : Math.min(now, startMs + (aligned ? Math.ceil(rnd() * 30) * HOUR : rnd() * 30 * HOUR))
      const windows = [{ startMs, endMs }, { startMs: Math.min(endMs, startMs + 2 * HOUR), endMs }]
      const scope = scopes[k % scopes.length]!
      const before = passed.counts
      const fromIndex = await counts(index.reader, scope, windows)
      if (passed.counts === before) answered++
      expect(fromIndex, `window ${new Date(startMs).toISOString()} - ${new Date(endMs).toISOString()}`).toEqual(await counts(db, scope, windows))
    }
    // Whole hours inside the horizon, with no replayed or late point, need no query at all.
    expect(answered).toBeGreaterThan(0)
    const clean = { startMs: Math.floor((now - 36 * HOUR) / HOUR) * HOUR, endMs: Math.floor((now - 30 * HOUR) / HOUR) * HOUR }
    passed.counts = 0
    expect(await counts(index.reader, { factory: 'f1' }, [clean])).toEqual(await counts(db, { factory: 'f1' }, [clean]))
    expect(passed.counts).toBe(0)
  })

  it('sums any window of the last day from memory alone, to the millisecond, replays and late points included', async () => {
    const rnd = random(17)
    passed.counts = 0
    for (let k = 0; k < 30; k++) {
      const startMs = Math.floor(now - 26 * HOUR + rnd() * 25 * HOUR)
      const endMs = k % 3 === 0 ? now : Math.floor(startMs + rnd() * (now - startMs))
      const windows = [{ startMs, endMs }, { startMs: Math.floor((startMs + endMs) / 2), endMs }]
      expect(await counts(index.reader, { factory: 'f1' }, windows)).toEqual(await counts(db, { factory: 'f1' }, windows))
    }
    expect(passed.counts).toBe(0)
  })

  it('gives the same state history as InfluxDB, from memory inside its horizon', async () => {
    const rnd = random(13)
    passed.states = 0
    for (let k = 0; k < 40; k++) {
      const startMs = Math.floor(now - 1.9 * DAY + rnd() * 1.8 * DAY)
      const endMs = Math.min(now, startMs + rnd() * 12 * HOUR)
      const scope: Scope = k % 2 === 0 ? { factory: 'f1' } : { factory: 'f1', line: 'l1', machine: 'm2' }
      const lookback = k % 5 === 0 ? 20 * MIN : 30 * DAY
      expect(await index.reader.stateHistory(scope, startMs, endMs, lookback)).toEqual(await db.stateHistory(scope, startMs, endMs, lookback))
    }
    expect(passed.states).toBe(0)
    // Older than the horizon: InfluxDB answers.
    const old = now - 2.5 * DAY
    expect(await index.reader.stateHistory({ factory: 'f1' }, old, old + 6 * HOUR, 30 * DAY)).toEqual(await db.stateHistory({ factory: 'f1' }, old, old + 6 * HOUR, 30 * DAY))
    expect(passed.states).toBe(1)
  })
})

describe('the OEE index when InfluxDB is not there at start-up', () => {
  it('leaves reads to InfluxDB, keeps what it accepts meanwhile, then loads on a later try', async () => {
    let up = false
    const down = () => Promise.reject(new Error('connect ECONNREFUSED'))
    const flaky: ManufacturingReader = {
      ...db,
      countBuckets: (...a) => (up ? db.countBuckets(...a) : down()),
      stateHistory: (...a) => (up ? db.stateHistory(...a) : down()),
    }
    const late = createOeeIndex({ db: flaky, horizonMs: 2 * DAY, lookbackMs: 30 * DAY, registry: new Registry(), log: pino({ level: 'silent' }), retryMs: 50 })
    try {
      await late.load()
      expect(late.loaded).toBe(false)
      // Lines accepted while InfluxDB cannot be read, already written to it: counted once, after the load.
      // (Not the last hour, where the first describe overwrote a point after these lines.)
      const tail = history(random(7)).filter((l) => ts(l) >= now - 3 * HOUR && ts(l) < now - HOUR)
      late.listener(accepted(tail))
      up = true
      const deadline = Date.now() + 20_000
      while (!late.loaded && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50))
      expect(late.loaded).toBe(true)
      const windows = [{ startMs: now - 5 * HOUR - 1234, endMs: now }]
      expect(await counts(late.reader, { factory: 'f1' }, windows)).toEqual(await counts(db, { factory: 'f1' }, windows))
      expect(await late.reader.stateHistory({ factory: 'f1' }, now - 5 * HOUR, now, 30 * DAY)).toEqual(await db.stateHistory({ factory: 'f1' }, now - 5 * HOUR, now, 30 * DAY))
    } finally {
      late.close()
    }
  })
})
