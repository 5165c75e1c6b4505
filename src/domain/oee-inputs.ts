import { emptyDurations } from './state-timeline.js'
import type { StateDurations, StateInterval } from './state-timeline.js'
import { unionWindows } from './time-window.js'
import type { TimeWindow } from './time-window.js'

/**
 * Cutting OEE inputs to planned (shift) time: state time and production
 * counts inside a set of windows.
 */

/** A production report reduced to its deltas (counters are turned into deltas at ingest). */
export interface ProductionPoint {
  readonly tsMs: number
  readonly good: number
  readonly reject: number
}

export interface Counts {
  readonly good: number
  readonly reject: number
  /** good + reject. */
  readonly total: number
}

/**
 * Ms per state inside the windows (e.g. shift occurrences or `plannedWindows`).
 * The windows are united first, so overlapping shifts count each ms once; the
 * intervals are those of `buildTimeline` (sorted, non-overlapping).
 */
export function timeInWindows(intervals: readonly StateInterval[], windows: readonly TimeWindow[]): StateDurations {
  const byStateMs = emptyDurations()
  let totalMs = 0
  const ws = unionWindows(windows)
  let w = 0
  for (const iv of intervals) {
    // Both lists are sorted: skip windows that end before this interval starts.
    while (w < ws.length && ws[w]!.endMs <= iv.startMs) w++
    for (let k = w; k < ws.length && ws[k]!.startMs < iv.endMs; k++) {
      const overlapMs = Math.min(iv.endMs, ws[k]!.endMs) - Math.max(iv.startMs, ws[k]!.startMs)
      if (overlapMs > 0) {
        byStateMs[iv.state] += overlapMs
        totalMs += overlapMs
      }
    }
  }
  return { byStateMs, totalMs }
}

/**
 * Good and reject counts of the points with startMs <= tsMs < endMs (a report
 * belongs to the window in which it was made, like InfluxQL's time bounds).
 */
export function sumCounts(points: readonly ProductionPoint[], startMs: number, endMs: number): Counts {
  let good = 0
  let reject = 0
  for (const p of points) {
    if (p.tsMs >= startMs && p.tsMs < endMs) {
      good += p.good
      reject += p.reject
    }
  }
  return { good, reject, total: good + reject }
}

/** Counts inside the union of the windows (a point in two overlapping shifts counts once). */
export function sumCountsInWindows(points: readonly ProductionPoint[], windows: readonly TimeWindow[]): Counts {
  let good = 0
  let reject = 0
  for (const w of unionWindows(windows)) {
    const c = sumCounts(points, w.startMs, w.endMs)
    good += c.good
    reject += c.reject
  }
  return { good, reject, total: good + reject }
}
