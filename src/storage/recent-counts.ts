import { machineKey, type MachineKey } from '../domain/machine-key.js'
import { grown, lowerBound, shrinkOldest } from './columns.js'
import { inScope, type MachineTags } from './machine-tags.js'
import type { Scope } from './ports.js'

/** Largest count a Float32 holds exactly: a point with a larger one makes its machine's sums the database's. */
const EXACT_F32 = 2 ** 24

interface MachinePoints extends MachineTags {
  n: number
  ts: Float64Array
  /** NaN where the point has no such field (a counter's first report). */
  good: Float32Array
  reject: Float32Array
  /** A count too large for the columns was seen: sums of this machine are left to the database. */
  inexact: boolean
}

/**
 * The production points of the last hours, one per series and time as in
 * InfluxDB, so the part of an hour at a window's edge sums exactly from
 * memory (docs/api.md, "The OEE index"). A point added with the time of one
 * held replaces the fields it carries. Points before `completeFromMs` are
 * not held: it rises as old points are dropped, by age or past `maxPoints`.
 */
export class RecentCounts {
  private readonly machines = new Map<MachineKey, MachinePoints>()
  private total = 0
  /** Points before this were dropped (and are not taken again). */
  private floorMs = Number.NEGATIVE_INFINITY
  /** Every point from here on is held; +Infinity until a load completes. */
  completeFromMs = Number.POSITIVE_INFINITY

  constructor(
    readonly spanMs: number,
    readonly maxPoints: number,
  ) {}

  get size(): number {
    return this.total
  }

  private machineOf(t: MachineTags): MachinePoints {
    const key = machineKey(t.zone, t.factory, t.line, t.machine)
    let m = this.machines.get(key)
    if (!m) {
      const c = 64
      m = { zone: t.zone, factory: t.factory, line: t.line, machine: t.machine, n: 0, ts: new Float64Array(c), good: new Float32Array(c), reject: new Float32Array(c), inexact: false }
      this.machines.set(key, m)
    }
    return m
  }

  add(t: MachineTags, tsMs: number, good: number | undefined, reject: number | undefined): void {
    if (tsMs < this.floorMs) return
    const m = this.machineOf(t)
    if ((good !== undefined && Math.abs(good) > EXACT_F32) || (reject !== undefined && Math.abs(reject) > EXACT_F32)) m.inexact = true
    let i = m.n
    if (m.n > 0 && tsMs <= m.ts[m.n - 1]!) i = lowerBound(m.ts, m.n, tsMs)
    if (i < m.n && m.ts[i] === tsMs) {
      if (good !== undefined) m.good[i] = good
      if (reject !== undefined) m.reject[i] = reject
      return
    }
    if (m.n === m.ts.length) {
      m.ts = grown(m.ts, m.n * 2)
      m.good = grown(m.good, m.n * 2)
      m.reject = grown(m.reject, m.n * 2)
    }
    if (i < m.n) for (const col of [m.ts, m.good, m.reject]) col.copyWithin(i + 1, i, m.n)
    m.ts[i] = tsMs
    m.good[i] = good ?? Number.NaN
    m.reject[i] = reject ?? Number.NaN
    m.n++
    this.total++
    if (this.total > this.maxPoints) this.shrink()
  }

  /** Points from `fromMs` on are all held from now on (after a load, or from the start). */
  markComplete(fromMs: number): void {
    this.completeFromMs = Math.max(fromMs, this.floorMs)
  }

  /** Drops points older than the span, and past `maxPoints` the oldest. */
  prune(nowMs: number): void {
    this.drop(nowMs - this.spanMs)
    if (this.total > this.maxPoints) this.shrink()
  }

  /** Drops the oldest points, a tenth of the time held at a time, until a tenth of the bound is free. */
  private shrink(): void {
    shrinkOldest(this.machines, () => this.total, this.maxPoints, (c) => this.drop(c))
  }

  private drop(cutMs: number): void {
    if (cutMs <= this.floorMs) return
    for (const m of this.machines.values()) {
      const k = lowerBound(m.ts, m.n, cutMs)
      if (k === 0) continue
      for (const col of [m.ts, m.good, m.reject]) col.copyWithin(0, k, m.n)
      m.n -= k
      this.total -= k
    }
    this.floorMs = cutMs
    if (this.completeFromMs !== Number.POSITIVE_INFINITY) this.completeFromMs = Math.max(this.completeFromMs, cutMs)
  }

  /**
   * Good and reject of each machine in `scope` over [startMs, endMs), or undefined when the
   * window starts before what is held or a machine's counts are not exact here.
   */
  sums(scope: Scope, startMs: number, endMs: number): Map<MachineKey, { good: number; reject: number }> | undefined {
    if (startMs < this.completeFromMs) return undefined
    const out = new Map<MachineKey, { good: number; reject: number }>()
    for (const [key, m] of this.machines) {
      if (!inScope(m, scope)) continue
      if (m.inexact) return undefined
      let good = 0
      let reject = 0
      for (let i = lowerBound(m.ts, m.n, startMs); i < m.n && m.ts[i]! < endMs; i++) {
        const g = m.good[i]!
        const r = m.reject[i]!
        if (g === g) good += g
        if (r === r) reject += r
      }
      out.set(key, { good, reject })
    }
    return out
  }
}
