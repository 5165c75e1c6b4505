import { shiftsInWindow } from './shifts.js'
import type { Shift, ShiftOccurrence } from './shifts.js'
import type { StateInterval } from './state-timeline.js'
import type { TimeWindow } from './time-window.js'

/**
 * The window an OEE answer covers when the request names no `start` or `end`
 * (docs/api.md, "OEE"): what a plant engineer reads off the board at the line,
 * never a day of mostly unknown time.
 */

/** How the window was chosen: given by the request, or one of the defaults. */
export type WindowBasis = 'requested' | 'current-shift' | 'last-shift' | 'last-24h'

export interface ChosenWindow extends TimeWindow {
  readonly basis: WindowBasis
  /** The shift occurrence the window follows, with its full bounds; null unless basis is a shift. */
  readonly shift: ShiftOccurrence | null
}

const DAY_MS = 86_400_000

/**
 * - The current shift of the factory's calendar, from its start to now.
 * - Between shifts (or at the very instant one begins, which would leave an
 *   empty window), the last shift that ended, whole.
 * - An empty calendar means the factory is planned 24/7: the last 24 hours.
 *
 * Of overlapping shifts the one that started last is current. Every shift
 * recurs daily and lasts at most a day, so the last two days hold both the
 * current and the last ended occurrence.
 */
export function defaultOeeWindow(shifts: readonly Shift[], timeZone: string | undefined, nowMs: number): ChosenWindow {
  if (shifts.length === 0) return { startMs: nowMs - DAY_MS, endMs: nowMs, basis: 'last-24h', shift: null }
  const recent = shiftsInWindow(shifts, timeZone, nowMs - 2 * DAY_MS, nowMs + 1)
  let current: ShiftOccurrence | undefined
  let last: ShiftOccurrence | undefined
  for (const o of recent) {
    if (o.startMs < nowMs && o.endMs > nowMs) {
      if (!current || o.startMs >= current.startMs) current = o
    } else if (o.endMs <= nowMs) {
      if (!last || o.endMs > last.endMs || (o.endMs === last.endMs && o.startMs > last.startMs)) last = o
    }
  }
  if (current) return { startMs: current.startMs, endMs: nowMs, basis: 'current-shift', shift: current }
  // Unreachable with a non-empty calendar (some occurrence ended in the last two days); kept total for the type.
  if (!last) return { startMs: nowMs - DAY_MS, endMs: nowMs, basis: 'last-24h', shift: null }
  return { startMs: last.startMs, endMs: last.endMs, basis: 'last-shift', shift: last }
}

/**
 * Where a machine's part of a default window starts: at its first known state
 * (the start of its first interval that is not 'unknown') when that comes later
 * than the window's start. Time before a machine ever reported (a fresh
 * installation, a gateway commissioned mid-shift, the demo's first minutes)
 * is not a loss of the shift: the machine was not yet part of it. A machine
 * that reported before the window keeps its start, and its silent time stays
 * a loss (offline, or the state last reported); one that never reported keeps
 * it too, all unknown, so a silent machine is never dropped from a line.
 */
export function machineStartMs(window: TimeWindow, intervals: readonly StateInterval[]): number {
  const known = intervals.find((i) => i.state !== 'unknown')
  return known && known.startMs > window.startMs && known.startMs < window.endMs ? known.startMs : window.startMs
}

/** The window's basis in plain words, for the answer's `window.description`. */
export function describeWindow(w: ChosenWindow, shifts: readonly Shift[], timeZone: string, startsAtFirstState: boolean): string {
  let text: string
  if (w.basis === 'requested') text = 'the requested window'
  else if (w.basis === 'last-24h' || !w.shift) text = 'the last 24 hours: the factory has no shift calendar, so it is planned 24/7'
  else {
    const def = shifts.find((s) => s.name === w.shift!.name)
    const times = def ? `${def.start}-${def.end} ` : ''
    const which = `"${w.shift.name}" (${times}${timeZone}) of ${w.shift.date}`
    text = w.basis === 'current-shift' ? `the current shift, ${which}, from its start to now` : `the last shift, ${which}, whole: no shift is on now`
  }
  return startsAtFirstState ? `${text}; machines that had reported no state before it are measured from their first state report` : text
}
