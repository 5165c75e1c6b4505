import { machineKey, type MachineKey } from '../domain/machine-key.js'
import type { TimeWindow } from '../domain/time-window.js'
import { inScope, type MachineTags } from './machine-tags.js'
import type { Scope } from './ports.js'
import { RecentCounts } from './recent-counts.js'

export const HOUR_MS = 3_600_000
/** Hours a point may lie ahead of the clock and still be held (the ingest's future skew is at most a day). */
const AHEAD_HOURS = 30

/** One machine's hours, in rings of typed arrays indexed by hour number modulo their length. */
interface MachineHours extends MachineTags {
  /** The newest production point's time seen for this machine (loaded or added). */
  newestMs: number
  readonly hour: Float64Array
  readonly good: Float64Array
  readonly reject: Float64Array
  /** 1 where the hour may hold a point twice or an overwritten one: the database answers for it. */
  readonly dirty: Uint8Array
}

/** What `CountIndex.split` made of some windows: per machine the sums it holds, and the windows the database must sum. */
export interface CountSplit {
  /** Per machine, per window given: good and reject summed over the hours the index answers. */
  readonly held: Map<MachineKey, { good: number; reject: number }[]>
  /** Parts of the windows the index cannot answer (`window` is the index of the window each belongs to). */
  readonly residual: readonly (TimeWindow & { readonly window: number })[]
}

/**
 * Good and reject counts per machine and hour, held in memory so an OEE's
 * counts cost a few additions instead of a query (docs/api.md, "The OEE
 * index"). Whole hours from `completeFromMs` on are answered from here; the
 * parts of a window that are not whole hours, older hours and hours marked
 * dirty are left to the database (`split`).
 *
 * A sum cannot tell a point added twice from two points, while InfluxDB keeps
 * one point per series and time (a replay after a crash writes the same points
 * again). So a point is added only when it is newer than every production
 * point of its machine seen so far; an older or equal one marks its hour
 * dirty, and the database answers for that hour from then on.
 */
export class CountIndex {
  private readonly ring: number
  private readonly machines = new Map<MachineKey, MachineHours>()
  /** Whole hours from here on are held; +Infinity until a load completes. */
  completeFromMs = Number.POSITIVE_INFINITY
  /** Hours with a point the rings could not hold. */
  private readonly unheld = new Set<number>()
  /** The last hours' points, for the parts of hours at a window's edges. */
  readonly recent: RecentCounts

  constructor(
    private readonly horizonMs: number,
    recent: { readonly spanMs: number; readonly maxPoints: number } = { spanMs: 0, maxPoints: 0 },
  ) {
    this.ring = Math.ceil(horizonMs / HOUR_MS) + AHEAD_HOURS + 2
    this.recent = new RecentCounts(recent.spanMs, recent.maxPoints)
  }

  get size(): number {
    return this.machines.size
  }

  private machineOf(t: MachineTags): MachineHours {
    const key = machineKey(t.zone, t.factory, t.line, t.machine)
    let m = this.machines.get(key)
    if (!m) {
      const n = this.ring
      m = { zone: t.zone, factory: t.factory, line: t.line, machine: t.machine, newestMs: Number.NEGATIVE_INFINITY, hour: new Float64Array(n).fill(-1), good: new Float64Array(n), reject: new Float64Array(n), dirty: new Uint8Array(n) }
      this.machines.set(key, m)
    }
    return m
  }

  /** The slot of hour `h` in `m`'s rings, emptied for it if it held an older hour. */
  private slot(m: MachineHours, h: number): number {
    const i = h % this.ring
    if (m.hour[i] !== h) {
      m.hour[i] = h
      m.good[i] = 0
      m.reject[i] = 0
      m.dirty[i] = 0
    }
    return i
  }

  /** A loaded hour's sums (the database's, read at start-up). */
  load(t: MachineTags, hourStartMs: number, good: number, reject: number): void {
    const m = this.machineOf(t)
    const i = this.slot(m, Math.floor(hourStartMs / HOUR_MS))
    m.good[i] = good
    m.reject[i] = reject
  }

  /** The newest production point the database held for a machine when the load read it. */
  loadNewest(t: MachineTags, tsMs: number): void {
    const m = this.machineOf(t)
    m.newestMs = Math.max(m.newestMs, tsMs)
  }

  /**
   * A production point accepted by this process. `good` and `reject` are undefined when the
   * line carries no counts (a counter's first report): nothing is added, but its time counts.
   */
  add(t: MachineTags, tsMs: number, good: number | undefined, reject: number | undefined, nowMs: number): void {
    if (this.recent.maxPoints > 0) this.recent.add(t, tsMs, good, reject)
    const m = this.machineOf(t)
    const h = Math.floor(tsMs / HOUR_MS)
    const newest = m.newestMs
    m.newestMs = Math.max(newest, tsMs)
    // Outside what the rings hold: an hour before the horizon is the database's anyway.
    if (h < Math.floor((nowMs - this.horizonMs) / HOUR_MS)) return
    // Too far ahead for the rings (the ingest's skew limit forbids it): its hour is never answered here.
    if (h > Math.floor(nowMs / HOUR_MS) + AHEAD_HOURS) {
      this.unheld.add(h)
      return
    }
    const i = this.slot(m, h)
    if (tsMs <= newest) m.dirty[i] = 1
    else {
      m.good[i] = m.good[i]! + (good ?? 0)
      m.reject[i] = m.reject[i]! + (reject ?? 0)
    }
  }

  /** Raises `completeFromMs` past the horizon, so hours the rings may have reused are never read. */
  prune(nowMs: number): void {
    const from = Math.ceil((nowMs - this.horizonMs) / HOUR_MS) * HOUR_MS
    if (from > this.completeFromMs) this.completeFromMs = from
  }

  markComplete(fromMs: number): void {
    this.completeFromMs = Math.ceil(fromMs / HOUR_MS) * HOUR_MS
  }

  /**
   * Splits windows into what the index answers (whole hours from `completeFromMs` on that no
   * machine of the scope has dirty; the open end of a window past every machine's newest point;
   * any part of an hour the recent points cover) and what the database must (the rest, as
   * windows to sum there).
   */
  split(scope: Scope, windows: readonly TimeWindow[], nowMs: number): CountSplit {
    this.prune(nowMs)
    const machines = [...this.machines].filter(([, m]) => inScope(m, scope))
    const held = new Map<MachineKey, { good: number; reject: number }[]>()
    for (const [key] of machines) held.set(key, windows.map(() => ({ good: 0, reject: 0 })))
    const residual: { window: number; startMs: number; endMs: number }[] = []
    const leave = (window: number, startMs: number, endMs: number) => {
      const last = residual.at(-1)
      if (last && last.window === window && last.endMs === startMs) last.endMs = endMs
      else residual.push({ window, startMs, endMs })
    }
    windows.forEach((w, wi) => {
      let t = w.startMs
      while (t < w.endMs) {
        const h = Math.floor(t / HOUR_MS)
        const hourStart = h * HOUR_MS
        const hourEnd = hourStart + HOUR_MS
        const end = Math.min(hourEnd, w.endMs)
        const i = h % this.ring
        // The hour's sum answers [t, end) if that is the whole hour, or its start up to past every point the hour can hold.
        const whole = t === hourStart && (end === hourEnd || machines.every(([, m]) => m.newestMs < end))
        const answerable = whole && hourStart >= this.completeFromMs && !this.unheld.has(h) && machines.every(([, m]) => m.hour[i] !== h || m.dirty[i] === 0)
        const recent = answerable ? undefined : this.recent.sums(scope, t, end)
        if (answerable) {
          for (const [key, m] of machines) {
            if (m.hour[i] !== h) continue
            const c = held.get(key)![wi]!
            c.good += m.good[i]!
            c.reject += m.reject[i]!
          }
        } else if (recent) {
          for (const [key, sum] of recent) {
            let sums = held.get(key)
            if (!sums) held.set(key, (sums = windows.map(() => ({ good: 0, reject: 0 }))))
            sums[wi]!.good += sum.good
            sums[wi]!.reject += sum.reject
          }
        } else leave(wi, t, end)
        t = end
      }
    })
    return { held, residual }
  }
}
