import { machineKey, type MachineKey } from '../domain/machine-key.js'
import { grown, lowerBound, shrinkOldest } from './columns.js'
import { inScope, type MachineTags } from './machine-tags.js'
import type { Scope, StateHistory, StatePoint } from './ports.js'

const NONE = -1

/** A state report as the index takes it: `reason` and `alarms` undefined when the line left them out. */
export interface StateReport {
  readonly tsMs: number
  readonly state: string
  readonly reason: string | undefined
  /** Comma-joined, as stored. */
  readonly alarms: string | undefined
  readonly sinceMs: number | undefined
}

/** One machine's reports in time order, as columns; strings as ids. */
interface MachineStates extends MachineTags {
  n: number
  ts: Float64Array
  since: Float64Array
  state: Int32Array
  reason: Int32Array
  alarms: Int32Array
  /** The newest report older than everything held (dropped by a prune, or read at load): the state in force before. */
  anchor: StatePoint | undefined
}

/**
 * State reports per machine, held in memory so an OEE's or a timeline's
 * state history costs a binary search instead of a query (docs/api.md, "The
 * OEE index"). It answers a window starting at or after `completeFromMs`
 * with a lookback no longer than the one it was loaded with: every report
 * from `completeFromMs` on is held, and for each machine the one in force
 * then (its anchor).
 *
 * As in InfluxDB, a report with the time of one held replaces the fields it
 * carries, so a replay after a crash changes nothing.
 */
export class StateIndex {
  private readonly machines = new Map<MachineKey, MachineStates>()
  private readonly strs: string[] = []
  private readonly strIds = new Map<string, number>()
  private total = 0
  /** Reports before this were dropped (a later one that old only updates its machine's anchor). */
  private floorMs = Number.NEGATIVE_INFINITY
  completeFromMs = Number.POSITIVE_INFINITY

  constructor(
    readonly lookbackMs: number,
    /** Reports held at most; past it the oldest are dropped (a machine flapping its state cannot grow memory without bound). */
    readonly maxReports = 3_000_000,
  ) {}

  get size(): number {
    return this.total
  }

  private id(s: string | undefined): number {
    if (s === undefined) return NONE
    let id = this.strIds.get(s)
    if (id === undefined) {
      id = this.strs.push(s) - 1
      this.strIds.set(s, id)
    }
    return id
  }

  private machineOf(t: MachineTags): MachineStates {
    const key = machineKey(t.zone, t.factory, t.line, t.machine)
    let m = this.machines.get(key)
    if (!m) {
      const c = 16
      m = { zone: t.zone, factory: t.factory, line: t.line, machine: t.machine, n: 0, ts: new Float64Array(c), since: new Float64Array(c), state: new Int32Array(c), reason: new Int32Array(c), alarms: new Int32Array(c), anchor: undefined }
      this.machines.set(key, m)
    }
    return m
  }

  /** The report in force before what is held (read at load): kept if newer than the anchor known. */
  anchor(t: MachineTags, p: StatePoint): void {
    const m = this.machineOf(t)
    if (!m.anchor || p.tsMs > m.anchor.tsMs) m.anchor = p
  }

  add(t: MachineTags, r: StateReport): void {
    const m = this.machineOf(t)
    if (r.tsMs < this.floorMs) {
      this.anchor(m, { tsMs: r.tsMs, state: r.state, reason: r.reason ?? '', alarms: r.alarms ? r.alarms.split(',') : [], sinceMs: r.sinceMs })
      return
    }
    // Usually the newest: appended. Otherwise the first index not before it.
    let i = m.n
    if (m.n > 0 && r.tsMs <= m.ts[m.n - 1]!) i = lowerBound(m.ts, m.n, r.tsMs)
    const state = this.id(r.state)
    const reason = this.id(r.reason)
    const alarms = this.id(r.alarms)
    if (i < m.n && m.ts[i] === r.tsMs) {
      m.state[i] = state
      if (reason !== NONE) m.reason[i] = reason
      if (alarms !== NONE) m.alarms[i] = alarms
      if (r.sinceMs !== undefined) m.since[i] = r.sinceMs
      return
    }
    if (m.n === m.ts.length) {
      const size = m.n * 2
      m.ts = grown(m.ts, size)
      m.since = grown(m.since, size)
      m.state = grown(m.state, size)
      m.reason = grown(m.reason, size)
      m.alarms = grown(m.alarms, size)
    }
    for (const col of [m.ts, m.since, m.state, m.reason, m.alarms]) col.copyWithin(i + 1, i, m.n)
    m.ts[i] = r.tsMs
    m.since[i] = r.sinceMs ?? Number.NaN
    m.state[i] = state
    m.reason[i] = reason
    m.alarms[i] = alarms
    m.n++
    if (++this.total > this.maxReports) this.shrink()
  }

  /** Drops the oldest reports, a tenth of the time held at a time, until a tenth of the bound is free. */
  private shrink(): void {
    shrinkOldest(this.machines, () => this.total, this.maxReports, (c) => this.prune(c))
  }

  private point(m: MachineStates, i: number): StatePoint {
    const str = (id: number) => (id === NONE ? '' : this.strs[id]!)
    const since = m.since[i]!
    const alarms = str(m.alarms[i]!)
    return { tsMs: m.ts[i]!, state: str(m.state[i]!), reason: str(m.reason[i]!), alarms: alarms ? alarms.split(',') : [], sinceMs: Number.isNaN(since) ? undefined : since }
  }

  /** Drops reports older than `cutMs` (the newest dropped becomes its machine's anchor); raises `completeFromMs` to it. */
  prune(cutMs: number): void {
    if (cutMs <= this.floorMs) return
    for (const m of this.machines.values()) {
      const k = lowerBound(m.ts, m.n, cutMs)
      if (k === 0) continue
      this.anchor(m, this.point(m, k - 1))
      for (const col of [m.ts, m.since, m.state, m.reason, m.alarms]) col.copyWithin(0, k, m.n)
      m.n -= k
      this.total -= k
    }
    this.floorMs = cutMs
    if (this.completeFromMs !== Number.POSITIVE_INFINITY) this.completeFromMs = Math.max(this.completeFromMs, cutMs)
  }

  markComplete(fromMs: number): void {
    this.completeFromMs = Math.max(fromMs, this.floorMs)
  }

  /** The database's answer to the same read, or undefined when the index does not hold all of it. */
  history(scope: Scope, startMs: number, endMs: number, lookbackMs: number): Map<MachineKey, StateHistory> | undefined {
    if (startMs < this.completeFromMs || lookbackMs > this.lookbackMs) return undefined
    const out = new Map<MachineKey, StateHistory>()
    for (const [key, m] of this.machines) {
      if (!inScope(m, scope)) continue
      const a = lowerBound(m.ts, m.n, startMs)
      const b = lowerBound(m.ts, m.n, endMs)
      let before = a > 0 ? this.point(m, a - 1) : m.anchor
      if (before && before.tsMs < startMs - lookbackMs) before = undefined
      if (!before && a === b) continue
      const points: StatePoint[] = []
      for (let i = a; i < b; i++) points.push(this.point(m, i))
      out.set(key, { before, points })
    }
    return out
  }
}
