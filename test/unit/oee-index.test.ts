import { describe, expect, it } from 'vitest'
import { parseOeeLine } from '../../src/api/oee-index.js'
import { line } from '../../src/domain/line-protocol.js'
import { CountIndex, HOUR_MS } from '../../src/storage/count-index.js'
import { RecentCounts } from '../../src/storage/recent-counts.js'
import { StateIndex } from '../../src/storage/state-index.js'

const M = { zone: 'z1', factory: 'f1', line: 'l1', machine: 'm1' }
const M2 = { ...M, machine: 'm2' }
const H0 = 500_000 * HOUR_MS
const now = H0 + 10 * HOUR_MS

describe('parseOeeLine', () => {
  it('reads production and state lines as the pipeline builds them, and passes over the rest', () => {
    const tags = 'factory=f1,line=l1,machine=m1,zone=z1'
    expect(parseOeeLine(line('production', tags, { good: '12i', reject: '1i', total: '13i', seq: '3i' }, 1000))).toEqual({ kind: 'production', tags: M, tsMs: 1000, good: 12, reject: 1 })
    // A counter's first report carries no counts.
    expect(parseOeeLine(line('production', tags, { counter_good: '500i', seq: '3i' }, 1000))).toMatchObject({ good: undefined, reject: undefined })
    expect(parseOeeLine(line('state', tags, { state: '"stopped"', reason: '"jam"', alarms: '"A1,A2"', since_ms: '900i', seq: '3i' }, 1000))).toEqual({ kind: 'state', tags: M, report: { tsMs: 1000, state: 'stopped', reason: 'jam', alarms: 'A1,A2', sinceMs: 900 } })
    expect(parseOeeLine(line('telemetry', `${tags},signal=x`, { value: '1' }, 1000))).toBeUndefined()
    expect(parseOeeLine(line('quality', `characteristic=c,${tags}`, { value: '1' }, 1000))).toBeUndefined()
    expect(parseOeeLine(line('statex', tags, { state: '"idle"' }, 1000))).toBeUndefined()
  })
})

describe('CountIndex', () => {
  const loadedIndex = () => {
    const c = new CountIndex(48 * HOUR_MS)
    c.markComplete(H0)
    return c
  }

  it('answers whole hours from memory and leaves the parts of hours to the database', () => {
    const c = loadedIndex()
    c.add(M, H0 + 10, 5, 1, now)
    c.add(M, H0 + HOUR_MS + 10, 7, 0, now)
    const s = c.split({}, [{ startMs: H0, endMs: H0 + 2 * HOUR_MS }, { startMs: H0 + 5, endMs: H0 + 2 * HOUR_MS }], now)
    expect(s.held.get('z1/f1/l1/m1')).toEqual([{ good: 12, reject: 1 }, { good: 7, reject: 0 }])
    expect(s.residual).toEqual([{ window: 1, startMs: H0 + 5, endMs: H0 + HOUR_MS }])
  })

  it('answers an open end from the hour once every machine of the scope is past it', () => {
    const c = loadedIndex()
    c.add(M, H0 + 3 * HOUR_MS + 100, 4, 0, now)
    c.add(M2, H0 + 3 * HOUR_MS + 900, 4, 0, now)
    const w = (endMs: number) => [{ startMs: H0 + 3 * HOUR_MS, endMs }]
    expect(c.split({ machine: 'm1' }, w(H0 + 3 * HOUR_MS + 500), now).residual).toEqual([])
    // m2's point lies after the end: the hour's sum would count it.
    expect(c.split({}, w(H0 + 3 * HOUR_MS + 500), now).residual).toEqual([{ window: 0, startMs: H0 + 3 * HOUR_MS, endMs: H0 + 3 * HOUR_MS + 500 }])
  })

  it('leaves an hour to the database once a point in it may be counted twice', () => {
    const c = loadedIndex()
    c.add(M, H0 + 100, 4, 0, now)
    c.add(M, H0 + 200, 4, 0, now)
    c.add(M, H0 + 200, 4, 0, now) // a replay
    c.add(M, H0 + HOUR_MS + 100, 4, 0, now)
    c.add(M, H0 + HOUR_MS + 50, 4, 0, now) // late: older than the newest
    const s = c.split({}, [{ startMs: H0, endMs: H0 + 3 * HOUR_MS }], now)
    expect(s.residual).toEqual([{ window: 0, startMs: H0, endMs: H0 + 2 * HOUR_MS }])
    expect(s.held.get('z1/f1/l1/m1')).toEqual([{ good: 0, reject: 0 }])
  })

  it('holds nothing before a load completes, nor before its horizon', () => {
    const c = new CountIndex(48 * HOUR_MS)
    c.add(M, H0 + 100, 4, 0, now)
    expect(c.split({}, [{ startMs: H0, endMs: H0 + HOUR_MS }], now).residual).toHaveLength(1)
    c.markComplete(H0)
    expect(c.split({}, [{ startMs: H0, endMs: H0 + HOUR_MS }], now).residual).toHaveLength(0)
    // Three days later the hour is past the horizon: the rings may have reused its slot.
    expect(c.split({}, [{ startMs: H0, endMs: H0 + HOUR_MS }], now + 72 * HOUR_MS).residual).toHaveLength(1)
    // A point too far ahead for the rings leaves its hour to the database, once the clock gets there.
    c.add(M, now + 40 * HOUR_MS, 1, 0, now)
    const later = now + 41 * HOUR_MS
    expect(c.split({}, [{ startMs: now + 40 * HOUR_MS, endMs: now + 41 * HOUR_MS }].map((w) => ({ startMs: Math.floor(w.startMs / HOUR_MS) * HOUR_MS, endMs: Math.floor(w.endMs / HOUR_MS) * HOUR_MS })), later).residual).toHaveLength(1)
  })
})

describe('StateIndex', () => {
  const report = (tsMs: number, state: string, reason?: string, alarms?: string) => ({ tsMs, state, reason, alarms, sinceMs: tsMs })

  it('keeps reports in time order and merges one with a held time field by field, as InfluxDB does', () => {
    const s = new StateIndex(10 * HOUR_MS)
    s.markComplete(H0)
    s.add(M, report(H0 + 300, 'idle'))
    s.add(M, report(H0 + 100, 'stopped', 'jam', 'A1,A2'))
    s.add(M, report(H0 + 100, 'stopped')) // a replay without the optional fields
    s.add(M, report(H0 + 200, 'running'))
    const h = s.history({}, H0 + 150, H0 + 1000, HOUR_MS)!.get('z1/f1/l1/m1')!
    expect(h.before).toEqual({ tsMs: H0 + 100, state: 'stopped', reason: 'jam', alarms: ['A1', 'A2'], sinceMs: H0 + 100 })
    expect(h.points.map((p) => p.state)).toEqual(['running', 'idle'])
  })

  it('finds the state in force through its anchor after a prune, within the lookback only', () => {
    const s = new StateIndex(10 * HOUR_MS)
    s.markComplete(H0)
    s.add(M, report(H0 + 100, 'stopped', 'jam'))
    s.add(M, report(H0 + 2 * HOUR_MS, 'running'))
    s.prune(H0 + HOUR_MS)
    expect(s.history({}, H0, H0 + 3 * HOUR_MS, HOUR_MS)).toBeUndefined()
    expect(s.history({}, H0 + HOUR_MS + 5, H0 + 3 * HOUR_MS, 2 * HOUR_MS)!.get('z1/f1/l1/m1')!.before?.state).toBe('stopped')
    expect(s.history({}, H0 + 2 * HOUR_MS + 200, H0 + 3 * HOUR_MS, 10)!.get('z1/f1/l1/m1')).toBeUndefined()
    // A longer lookback than the index was built for: only the database knows.
    expect(s.history({}, H0 + HOUR_MS, H0 + 3 * HOUR_MS, 11 * HOUR_MS)).toBeUndefined()
  })
})

describe('StateIndex bound', () => {
  it('drops the oldest reports past its bound and answers later windows as an unbounded index does', () => {
    const bounded = new StateIndex(10 * HOUR_MS, 100)
    const full = new StateIndex(10 * HOUR_MS)
    for (const s of [bounded, full]) s.markComplete(H0)
    for (let i = 0; i < 300; i++) {
      const r = { tsMs: H0 + i * 60_000, state: i % 3 ? 'running' : 'stopped', reason: i % 3 ? undefined : 'jam', alarms: undefined, sinceMs: H0 }
      bounded.add(i % 2 ? M : M2, r)
      full.add(i % 2 ? M : M2, r)
    }
    expect(bounded.size).toBeLessThanOrEqual(100)
    expect(bounded.completeFromMs).toBeGreaterThan(H0)
    expect(bounded.history({}, H0, H0 + HOUR_MS, HOUR_MS)).toBeUndefined()
    // A late report older than what is held becomes the state in force, if it is the newest such.
    const late = { tsMs: bounded.completeFromMs - 1, state: 'setup', reason: undefined, alarms: 'A9', sinceMs: undefined }
    bounded.add(M, late)
    full.add(M, late)
    for (const start of [bounded.completeFromMs, bounded.completeFromMs + 7, H0 + 290 * 60_000 + 1]) {
      expect(bounded.history({}, start, start + HOUR_MS, 10 * HOUR_MS)).toEqual(full.history({}, start, start + HOUR_MS, 10 * HOUR_MS))
    }
  })
})

describe('RecentCounts', () => {
  it('holds one point per time, a later one replacing only the fields it carries', () => {
    const r = new RecentCounts(HOUR_MS, 100)
    r.markComplete(H0)
    r.add(M, H0 + 10, 5, 1)
    r.add(M, H0 + 10, undefined, undefined) // a counter's first report, decoded again
    r.add(M, H0 + 5, 2, undefined)
    r.add(M, H0 + 10, 7, undefined)
    expect(r.sums({}, H0, H0 + 11)?.get('z1/f1/l1/m1')).toEqual({ good: 9, reject: 1 })
    expect(r.sums({}, H0 + 6, H0 + 10)?.get('z1/f1/l1/m1')).toEqual({ good: 0, reject: 0 })
    expect(r.sums({}, H0 - 1, H0 + 10)).toBeUndefined()
  })

  it('drops the oldest points past its bound, and no longer answers for their time', () => {
    const r = new RecentCounts(HOUR_MS, 100)
    r.markComplete(H0)
    for (let i = 0; i < 150; i++) r.add(i % 2 ? M : M2, H0 + i * 1000, 1, 0)
    expect(r.size).toBeLessThanOrEqual(100)
    expect(r.completeFromMs).toBeGreaterThan(H0)
    expect(r.sums({}, H0, H0 + 150_000)).toBeUndefined()
    const from = r.completeFromMs
    const held = r.sums({}, from, H0 + 150_000)!
    expect([...held.values()].reduce((n, c) => n + c.good, 0)).toBe(150 - Math.ceil((from - H0) / 1000))
  })

  it('leaves a machine whose counts a Float32 cannot hold exactly to the database', () => {
    const r = new RecentCounts(HOUR_MS, 100)
    r.markComplete(H0)
    r.add(M, H0 + 1, 2 ** 25 + 1, 0)
    expect(r.sums({ machine: 'm2' }, H0, H0 + 10)).toBeDefined()
    expect(r.sums({}, H0, H0 + 10)).toBeUndefined()
  })
})

describe('createOeeIndex, when InfluxDB stays unreadable while lines keep coming', () => {
  it('turns itself off past its bound of waiting lines, and leaves every read to the database', async () => {
    const { createOeeIndex } = await import('../../src/api/oee-index.js')
    const { Registry } = await import('prom-client')
    const pino = (await import('pino')).default
    let reads = 0
    let up = false
    const empty = () => (up ? Promise.resolve(new Map()) : Promise.reject(new Error('connect ECONNREFUSED')))
    const db = { stateHistory: () => (reads++, empty()), countsInWindows: () => (reads++, empty()), countBuckets: empty, productionPoints: empty, newestProduction: empty, inspections: () => Promise.resolve([]), connectivity: () => Promise.resolve([]), latestPerMachine: empty }
    const registry = new Registry()
    const index = createOeeIndex({ db, horizonMs: 48 * HOUR_MS, lookbackMs: HOUR_MS, registry, log: pino({ level: 'silent' }), retryMs: 60_000, maxPending: 10 })
    try {
      await index.load()
      const tags = 'factory=f1,line=l1,machine=m1,zone=z1'
      const lines = Array.from({ length: 11 }, (_, i) => line('state', tags, { state: '"idle"' }, Date.now() - i))
      const accepted = { topic: { scope: 'machine' as const, zone: 'z1', factory: 'f1', line: 'l1', machine: 'm1', kind: 'state' as const }, gatewayId: 'g', message: undefined, lines }
      index.listener(accepted)
      // Off, it takes nothing more: no memory for an index that will not answer.
      index.listener(accepted)
      // A load that could succeed now finds the index off: it never answers.
      up = true
      await index.load()
      reads = 0
      expect(index.loaded).toBe(false)
      expect(await registry.getSingleMetricAsString('iiot_oee_index_states')).toMatch(/iiot_oee_index_states 0$/m)
      await index.reader.stateHistory({}, Date.now() - HOUR_MS, Date.now(), HOUR_MS)
      await index.reader.countsInWindows({}, [{ startMs: Date.now() - HOUR_MS, endMs: Date.now() }])
      expect(reads).toBe(2)
    } finally {
      index.close()
    }
  })
})
