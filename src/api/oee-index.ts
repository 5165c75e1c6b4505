import { Gauge, type Registry } from 'prom-client'
import type { Logger } from 'pino'
import { parseLine } from '../domain/line-protocol.js'
import type { MachineKey } from '../domain/machine-key.js'
import { MEASUREMENTS } from '../domain/measurements.js'
import type { AcceptedListener } from '../pipeline/processor.js'
import { CountIndex, HOUR_MS } from '../storage/count-index.js'
import type { MachineTags } from '../storage/machine-tags.js'
import type { ManufacturingReader } from '../storage/ports.js'
import { indexUpkeep } from './index-upkeep.js'
import { StateIndex, type StateReport } from '../storage/state-index.js'

export interface OeeIndexOptions {
  /** Where reads go that the index cannot answer, and what it loads at start-up. */
  readonly db: ManufacturingReader
  /** How far back states and hourly counts are held. */
  readonly horizonMs: number
  /** The state lookback of the API's reads (the state in force at a window's start is searched this far back). */
  readonly lookbackMs: number
  readonly registry: Registry
  readonly log: Logger
  readonly now?: () => number
  /** After a failed load, the next try (default a minute). */
  readonly retryMs?: number
  /** Lines held while the load waits for InfluxDB, at most (default 2,000,000); past it the index turns off. */
  readonly maxPending?: number
}

const DAY_MS = 86_400_000
/** The recent points behind the parts of hours at a window's edges: a day and a bit, so "the last 24 hours" sums from memory. */
const RECENT = { spanMs: 27 * HOUR_MS, maxPoints: 2_000_000 }
const PRODUCTION_PREFIX = MEASUREMENTS.production + ','
const STATE_PREFIX = MEASUREMENTS.state + ','

type Parsed =
  | { readonly kind: 'production'; readonly tags: MachineTags; readonly tsMs: number; readonly good: number | undefined; readonly reject: number | undefined }
  | { readonly kind: 'state'; readonly tags: MachineTags; readonly report: StateReport }

const tagsOfKey = (key: MachineKey): MachineTags => {
  const [zone = '', factory = '', line = '', machine = ''] = key.split('/')
  return { zone, factory, line, machine }
}

/** A production or state line this service built, as the index takes it; undefined for any other line. */
export function parseOeeLine(text: string): Parsed | undefined {
  const c = text.charCodeAt(0)
  // Telemetry, the bulk of the lines, is passed over on its first character.
  if (c !== 0x70 /* p */ && c !== 0x73 /* s */) return undefined
  const production = text.startsWith(PRODUCTION_PREFIX)
  if (!production && !text.startsWith(STATE_PREFIX)) return undefined
  const p = parseLine(text)
  if (!p) return undefined
  const tags = { zone: p.tags.zone ?? '', factory: p.tags.factory ?? '', line: p.tags.line ?? '', machine: p.tags.machine ?? '' }
  const num = (v: unknown) => (typeof v === 'number' ? v : undefined)
  const str = (v: unknown) => (typeof v === 'string' ? v : undefined)
  if (production) return { kind: 'production', tags, tsMs: p.tsMs, good: num(p.fields.good), reject: num(p.fields.reject) }
  const state = str(p.fields.state)
  return state === undefined ? undefined : { kind: 'state', tags, report: { tsMs: p.tsMs, state, reason: str(p.fields.reason), alarms: str(p.fields.alarms), sinceMs: num(p.fields.since_ms) } }
}

/**
 * The OEE index of one service (docs/api.md, "The OEE index"): machine states
 * and hourly good and reject counts, fed by the lines this process accepts,
 * loaded at start-up from InfluxDB, and put in front of the database reader,
 * which answers whatever the index does not hold.
 */
export function createOeeIndex(o: OeeIndexOptions) {
  const now = o.now ?? Date.now
  let counts = new CountIndex(o.horizonMs, RECENT)
  let states = new StateIndex(o.lookbackMs)
  /** Empty indexes, which answer nothing until a load completes them. */
  const reset = () => {
    counts = new CountIndex(o.horizonMs, RECENT)
    states = new StateIndex(o.lookbackMs)
  }
  let loaded = false
  const prune = () => {
    states.prune(now() - o.horizonMs - DAY_MS)
    counts.recent.prune(now())
  }
  const upkeep = indexUpkeep({ prune, pruneEveryMs: HOUR_MS, retryMs: o.retryMs })
  new Gauge({ name: 'iiot_oee_index_states', help: 'state reports held by the OEE index', registers: [o.registry], collect() { this.set(states.size) } })
  new Gauge({ name: 'iiot_oee_index_loaded', help: '1 once the OEE index holds its horizon and answers state and count reads', registers: [o.registry], collect() { this.set(loaded ? 1 : 0) } })

  /** Lines accepted while the load runs: applied after it, in the order they came. */
  let pending: Parsed[] | undefined = []
  const apply = (p: Parsed) => {
    if (p.kind === 'state') states.add(p.tags, p.report)
    else counts.add(p.tags, p.tsMs, p.good, p.reject, now())
  }
  /** Set when the index gave up (below): it then takes nothing more. */
  let off = false
  const listener: AcceptedListener = (accepted) => {
    // Reading `lines` costs a split for a message decoded on a worker: only the two kinds with such lines are read.
    const kind = accepted.topic.kind
    if (off || (kind !== 'production' && kind !== 'state')) return
    for (const text of accepted.lines) {
      const p = parseOeeLine(text)
      if (!p) continue
      if (!pending) apply(p)
      else if (pending.length < (o.maxPending ?? 2_000_000)) pending.push(p)
      else {
        // InfluxDB unreadable for long under load: give up rather than hold lines without bound.
        off = true
        upkeep.close()
        reset()
        o.log.warn({ held: pending.length }, 'OEE index off until restart: InfluxDB could not be read while lines came in; OEE and timelines read InfluxDB')
        pending = undefined
        return
      }
    }
  }

  // Every other read is the database's.
  const reader: ManufacturingReader = {
    ...o.db,
    async stateHistory(scope, startMs, endMs, lookbackMs) {
      return states.history(scope, startMs, endMs, lookbackMs) ?? o.db.stateHistory(scope, startMs, endMs, lookbackMs)
    },
    async countsInWindows(scope, windows) {
      const { held, residual } = counts.split(scope, windows, now())
      if (residual.length === 0) return held
      const fromDb = await o.db.countsInWindows(scope, residual)
      for (const [key, sums] of fromDb) {
        let mine = held.get(key)
        if (!mine) held.set(key, (mine = windows.map(() => ({ good: 0, reject: 0 }))))
        sums.forEach((s, i) => {
          const c = mine[residual[i]!.window]!
          c.good += s.good
          c.reject += s.reject
        })
      }
      return held
    },
  }

  return {
    reader,
    listener,
    get loaded() {
      return loaded
    },
    load,
    close: upkeep.close,
  }

  /**
   * Reads the horizon from InfluxDB a day at a time: hourly sums, then each machine's newest
   * production point (after the sums, so a point written between the two reads is taken as
   * already counted: its hour goes to the database), and the state reports with the one in
   * force before them. A failure leaves the database answering, and is tried again later.
   */
  async function load(): Promise<void> {
    const t0 = now()
    const from = Math.ceil((t0 - o.horizonMs) / HOUR_MS) * HOUR_MS
    try {
      for (let start = from; start < t0 + DAY_MS && !upkeep.closed; start += DAY_MS) {
        const end = start + DAY_MS
        const [buckets, history] = await Promise.all([
          o.db.countBuckets({}, start, end, HOUR_MS, true),
          // The first day's read also gives the state in force at the horizon; the others need none.
          o.db.stateHistory({}, start, end, start === from ? o.lookbackMs : 0),
        ])
        for (const [key, rows] of buckets) for (const r of rows) counts.load(tagsOfKey(key), r.tsMs, r.good, r.reject)
        for (const [key, h] of history) {
          const tags = tagsOfKey(key)
          if (h.before) states.anchor(tags, h.before)
          for (const p of h.points) states.add(tags, { ...p, alarms: p.alarms.join(','), reason: p.reason })
        }
      }
      // The recent points, an hour at a time (a few tens of thousands of rows each).
      const recentFrom = Math.max(from, t0 - RECENT.spanMs)
      for (let start = recentFrom; start < t0 && !upkeep.closed; start += HOUR_MS) {
        // The last read runs a day past now, for points stamped ahead of the clock.
        const end = start + HOUR_MS >= t0 ? t0 + DAY_MS : start + HOUR_MS
        for (const [key, rows] of await o.db.productionPoints(start, end)) {
          const tags = tagsOfKey(key)
          for (const r of rows) counts.recent.add(tags, r.tsMs, r.good ?? undefined, r.reject ?? undefined)
        }
      }
      if (upkeep.closed) return
      counts.recent.markComplete(recentFrom)
      for (const [key, ts] of await o.db.newestProduction(from)) counts.loadNewest(tagsOfKey(key), ts)
      counts.markComplete(from)
      states.markComplete(from)
    } catch (err) {
      // Lines accepted meanwhile stay pending for the next load, which starts from empty indexes.
      reset()
      o.log.warn({ err }, 'OEE index not loaded: OEE and timelines read InfluxDB; trying again later')
      upkeep.retryLater(load)
      return
    }
    if (off) return reset()
    const accepted = pending ?? []
    pending = undefined
    for (const p of accepted) apply(p)
    loaded = true
    o.log.info({ machines: counts.size, states: states.size, ms: now() - t0 }, 'OEE index loaded')
  }
}
