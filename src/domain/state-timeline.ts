import { MACHINE_STATES } from './records.js'
import type { MachineState } from './records.js'
import type { TimeWindow } from './time-window.js'

/**
 * A machine's state timeline over a window, built from its state change
 * points (docs/api.md, "Equipment"). Exact to the millisecond: InfluxQL's
 * resampling loses the state at the window start and runs past now
 * (docs/storage.md, "State durations"), so the reader fetches change points and
 * the state in force before the window, and this module does the arithmetic.
 */

/** A machine state, or 'unknown' for time before the first known state. */
export type TimelineState = MachineState | 'unknown'

/** Every state a timeline interval can carry, 'unknown' last. */
export const TIMELINE_STATES: readonly TimelineState[] = [...MACHINE_STATES, 'unknown']

/** The state in force at the window start: the last change at or before it (`tsMs` may be long before the window). */
export interface PriorState {
  readonly state: MachineState
  readonly reason: string
  readonly tsMs: number
  readonly alarms?: readonly string[]
}

/** One state change point as stored (state, reason code, alarm codes). */
export interface StateChangePoint {
  readonly tsMs: number
  readonly state: MachineState
  readonly reason: string
  readonly alarms?: readonly string[]
}

/** A contiguous stretch of one state and reason, clipped to the window. */
export interface StateInterval {
  readonly state: TimelineState
  /** The reason code of the change that began it ('' when none was given or the state is unknown). */
  readonly reason: string
  /** Alarm codes of the merged change points, each once, in order of first appearance. */
  readonly alarms: readonly string[]
  readonly startMs: number
  readonly endMs: number
  readonly durationMs: number
}

/** Milliseconds per state (every state present, 0 when absent) and their total. */
export interface StateDurations {
  readonly byStateMs: Readonly<Record<TimelineState, number>>
  readonly totalMs: number
}

interface Open {
  state: TimelineState
  reason: string
  alarms: readonly string[]
  fromMs: number
}

/**
 * Builds the contiguous, non-overlapping intervals covering `window` exactly.
 *
 * - `prior` is the state in force at `window.startMs`. Without it, time before
 *   the first change point is state 'unknown' (reason '').
 * - Change points are taken in time order (a stable sort is applied, so the
 *   given order only matters between equal timestamps). Of several points with
 *   the same `tsMs` the later one in the array wins; points at or before the
 *   window start (including `prior`) only decide the state in force at the
 *   start; points at or after `window.endMs` are ignored.
 * - Consecutive intervals with the same state and reason merge (gateways
 *   re-publish their state periodically), with their alarms united.
 * - Zero-length intervals are never returned; an empty or inverted window
 *   gives [].
 *
 * The caller clamps `window.endMs` to now, so a timeline never runs into the future.
 */
export function buildTimeline(prior: PriorState | undefined, changes: readonly StateChangePoint[], window: TimeWindow): StateInterval[] {
  const { startMs, endMs } = window
  if (!(endMs > startMs)) return []
  // The prior state goes first so that a change point with the same timestamp wins over it.
  const points = prior ? [prior, ...changes] : [...changes]
  points.sort((a, b) => a.tsMs - b.tsMs)
  const out: StateInterval[] = []
  let open: Open = { state: 'unknown', reason: '', alarms: [], fromMs: startMs }

  const close = (atMs: number): void => {
    if (atMs <= open.fromMs) return
    const last = out[out.length - 1]
    if (last && last.state === open.state && last.reason === open.reason && last.endMs === open.fromMs) {
      out[out.length - 1] = interval(open.state, open.reason, uniteAlarms(last.alarms, open.alarms), last.startMs, atMs)
    } else {
      out.push(interval(open.state, open.reason, open.alarms, open.fromMs, atMs))
    }
  }

  for (const p of points) {
    if (p.tsMs >= endMs) break
    const fromMs = Math.max(p.tsMs, startMs)
    close(fromMs)
    open = { state: p.state, reason: p.reason, alarms: p.alarms ?? [], fromMs }
  }
  close(endMs)
  return out
}

/** Milliseconds spent in each state over the intervals, plus the total. */
export function timeInState(intervals: readonly StateInterval[]): StateDurations {
  const byStateMs = emptyDurations()
  let totalMs = 0
  for (const i of intervals) {
    byStateMs[i.state] += i.durationMs
    totalMs += i.durationMs
  }
  return { byStateMs, totalMs }
}

/** A per-state record with every state at 0: callers never meet an undefined key. */
export function emptyDurations(): Record<TimelineState, number> {
  const r = {} as Record<TimelineState, number>
  for (const s of TIMELINE_STATES) r[s] = 0
  return r
}

function interval(state: TimelineState, reason: string, alarms: readonly string[], startMs: number, endMs: number): StateInterval {
  return { state, reason, alarms, startMs, endMs, durationMs: endMs - startMs }
}

function uniteAlarms(a: readonly string[], b: readonly string[]): readonly string[] {
  if (b.length === 0) return a
  return [...new Set([...a, ...b])]
}

/**
 * Down states: the machine cannot produce and someone must act. 'planned_stop'
 * is planned downtime (breaks, planned maintenance); 'unplanned_stop' and
 * 'fault' are unplanned. 'idle' (waiting for material or an operator) and
 * 'setup' (changeover) are not downtime here, but are reported beside it
 * because they are availability losses in OEE; 'offline' and 'unknown' are
 * not downtime either (nothing says what the machine did) and are also
 * reported beside it.
 */
export const DOWN_STATES = ['planned_stop', 'unplanned_stop', 'fault'] as const
export type DownState = (typeof DOWN_STATES)[number]

/** The reason label used for a down interval without a reason code. */
export const UNSPECIFIED_REASON = 'unspecified'

/** One bar of the Pareto: all down intervals with this reason code. */
export interface ParetoEntry {
  readonly reason: string
  /** Down intervals with this reason (an interval cut by the window start or end counts once). */
  readonly count: number
  readonly durationMs: number
  /** Of which planned_stop, and unplanned_stop + fault. */
  readonly plannedMs: number
  readonly unplannedMs: number
  /** durationMs / total downtime, in [0, 1]. */
  readonly share: number
  /** Running sum of shares down the sorted list; the last entry is exactly 1. */
  readonly cumulativeShare: number
}

export interface DowntimePareto {
  /** Sorted by durationMs desc, then count desc, then reason asc. */
  readonly reasons: readonly ParetoEntry[]
  readonly totalDownMs: number
  readonly plannedMs: number
  readonly unplannedMs: number
  /** Not downtime, reported beside it. */
  readonly idleMs: number
  readonly setupMs: number
  readonly offlineMs: number
  readonly unknownMs: number
}

/**
 * Downtime by reason over timeline intervals (from `buildTimeline`): only
 * DOWN_STATES count; an empty reason becomes 'unspecified'. Shares are
 * fractions of the total downtime.
 */
export function downtimePareto(intervals: readonly StateInterval[]): DowntimePareto {
  const byReason = new Map<string, { count: number; plannedMs: number; unplannedMs: number }>()
  const t = timeInState(intervals).byStateMs
  for (const i of intervals) {
    if (!isDown(i.state)) continue
    const reason = i.reason === '' ? UNSPECIFIED_REASON : i.reason
    const e = byReason.get(reason) ?? { count: 0, plannedMs: 0, unplannedMs: 0 }
    e.count++
    if (i.state === 'planned_stop') e.plannedMs += i.durationMs
    else e.unplannedMs += i.durationMs
    byReason.set(reason, e)
  }
  const plannedMs = t.planned_stop
  const unplannedMs = t.unplanned_stop + t.fault
  const totalDownMs = plannedMs + unplannedMs
  const sorted = [...byReason]
    .map(([reason, e]) => ({ reason, ...e, durationMs: e.plannedMs + e.unplannedMs }))
    .sort((a, b) => b.durationMs - a.durationMs || b.count - a.count || (a.reason < b.reason ? -1 : a.reason > b.reason ? 1 : 0))
  let cumulativeMs = 0
  const reasons = sorted.map((e): ParetoEntry => {
    cumulativeMs += e.durationMs
    // Shares from integer ms sums, not by adding rounded fractions, so the last is exactly 1.
    const share = totalDownMs > 0 ? e.durationMs / totalDownMs : 0
    const cumulativeShare = totalDownMs > 0 ? cumulativeMs / totalDownMs : 0
    return { reason: e.reason, count: e.count, durationMs: e.durationMs, plannedMs: e.plannedMs, unplannedMs: e.unplannedMs, share, cumulativeShare }
  })
  return { reasons, totalDownMs, plannedMs, unplannedMs, idleMs: t.idle, setupMs: t.setup, offlineMs: t.offline, unknownMs: t.unknown }
}

/** Whether a state counts as downtime (see DOWN_STATES). */
export function isDown(state: TimelineState): state is DownState {
  return state === 'planned_stop' || state === 'unplanned_stop' || state === 'fault'
}
