import { AppError } from '../errors.js'
import { clipWindow, unionWindows, windowMs } from './time-window.js'
import type { TimeWindow } from './time-window.js'

/**
 * A factory's shift calendar (docs/registry.md: the registry keeps one per
 * factory, with its IANA time zone). Shift times are local wall-clock times;
 * a shift whose end is at or before its start ends on the next local day
 * ('22:00'-'06:00' is a night shift, '06:00'-'06:00' lasts a whole day).
 */
export interface Shift {
  readonly name: string
  /** Local start, 'HH:MM' (24 h). */
  readonly start: string
  /** Local end, 'HH:MM' (24 h). */
  readonly end: string
}

/** One occurrence of a shift, with its full (unclipped) bounds. */
export interface ShiftOccurrence {
  readonly name: string
  /** Local calendar date the shift starts on, 'YYYY-MM-DD'. */
  readonly date: string
  readonly startMs: number
  readonly endMs: number
}

/** The registry's default factory time zone (UTC+7, no DST). */
export const DEFAULT_TIME_ZONE = 'Asia/Ho_Chi_Minh'

const DAY_MS = 86_400_000
const HHMM = /^([01]\d|2[0-3]):([0-5]\d)$/

/**
 * Every occurrence of every shift that overlaps [startMs, endMs), sorted by
 * start (then calendar order). Local times are converted with the zone's
 * offset in force at that moment (Intl.DateTimeFormat), so DST days have 23-
 * or 25-hour spans where a shift crosses the change. A local time that does
 * not exist (spring-forward gap) moves forward by the gap, e.g. 02:30 becomes
 * 03:30 in Europe/Berlin; one that exists twice (fall-back) takes the earlier
 * instant (Temporal's 'compatible' rule). Occurrences that come out empty are
 * dropped. `timeZone` undefined means DEFAULT_TIME_ZONE.
 */
export function shiftsInWindow(shifts: readonly Shift[], timeZone: string | undefined, startMs: number, endMs: number): ShiftOccurrence[] {
  if (!(endMs > startMs) || shifts.length === 0) return []
  const tz = timeZone ?? DEFAULT_TIME_ZONE
  const parsed = shifts.map((s) => ({ name: s.name, start: minutesOf(s.start, s.name), end: minutesOf(s.end, s.name) }))
  // A shift that overlaps the window starts at most one local day before the window's first local day.
  const first = localDay(startMs, tz) - DAY_MS
  const last = localDay(endMs, tz)
  const out: (ShiftOccurrence & { order: number })[] = []
  for (let day = first; day <= last; day += DAY_MS) {
    parsed.forEach((s, order) => {
      const occStart = localToUtc(day + s.start * 60_000, tz)
      const occEnd = localToUtc(day + (s.end <= s.start ? DAY_MS : 0) + s.end * 60_000, tz)
      if (occEnd > occStart && occStart < endMs && occEnd > startMs) {
        out.push({ name: s.name, date: new Date(day).toISOString().slice(0, 10), startMs: occStart, endMs: occEnd, order })
      }
    })
  }
  out.sort((a, b) => a.startMs - b.startMs || a.order - b.order)
  return out.map(({ name, date, startMs: s, endMs: e }) => ({ name, date, startMs: s, endMs: e }))
}

/**
 * The planned (shift) time inside [startMs, endMs) as sorted, non-overlapping
 * windows clipped to it; overlapping shifts are joined, never counted twice.
 * An empty calendar means the factory runs 24/7: the whole window is planned.
 */
export function plannedWindows(shifts: readonly Shift[], timeZone: string | undefined, startMs: number, endMs: number): TimeWindow[] {
  if (!(endMs > startMs)) return []
  const window = { startMs, endMs }
  if (shifts.length === 0) return [window]
  const clipped = shiftsInWindow(shifts, timeZone, startMs, endMs).map((o) => clipWindow(o, window))
  return unionWindows(clipped.filter((w): w is TimeWindow => w !== undefined))
}

/** Total planned (shift) time in [startMs, endMs), ms: the length of `plannedWindows`. Empty calendar = the whole window (24/7). */
export function plannedTimeMs(shifts: readonly Shift[], timeZone: string | undefined, startMs: number, endMs: number): number {
  return plannedWindows(shifts, timeZone, startMs, endMs).reduce((sum, w) => sum + windowMs(w), 0)
}

/**
 * The instant of a local wall-clock time, given as "local ms" (the epoch ms
 * the same wall-clock reading would have in UTC). Candidate offsets are the
 * zone's offsets a day before and after; a candidate is right when the zone's
 * offset at the resulting instant is that offset.
 */
export function localToUtc(localMs: number, timeZone: string): number {
  // Shift boundaries recur every day, and every OEE request converts the same few (about 50
  // formatToParts calls for a day's window): remembered, as the answer for a zone never changes.
  const key = `${timeZone} ${localMs}`
  const known = instants.get(key)
  if (known !== undefined) return known
  if (instants.size >= 100_000) instants.clear()
  const instant = convert(localMs, timeZone)
  instants.set(key, instant)
  return instant
}

const instants = new Map<string, number>()

function convert(localMs: number, timeZone: string): number {
  const before = offsetMs(localMs - DAY_MS, timeZone)
  const after = offsetMs(localMs + DAY_MS, timeZone)
  const valid = [before, after].map((o) => localMs - o).filter((t) => offsetMs(t, timeZone) === localMs - t)
  // Overlap: two valid instants, take the earlier. Gap: none; the pre-gap offset lands after the gap.
  return valid.length > 0 ? Math.min(...valid) : localMs - before
}

/** The zone's UTC offset at an instant, ms (positive east of Greenwich). */
export function offsetMs(utcMs: number, timeZone: string): number {
  const p = partsOf(utcMs, timeZone)
  const wholeSecond = Math.floor(utcMs / 1000) * 1000
  return Date.UTC(p.year, p.month - 1, p.day, p.hour, p.minute, p.second) - wholeSecond
}

/** Local midnight of the instant's local date, as "local ms". */
function localDay(utcMs: number, timeZone: string): number {
  const p = partsOf(utcMs, timeZone)
  return Date.UTC(p.year, p.month - 1, p.day)
}

const formatters = new Map<string, Intl.DateTimeFormat>()

function partsOf(utcMs: number, timeZone: string): Record<'year' | 'month' | 'day' | 'hour' | 'minute' | 'second', number> {
  let f = formatters.get(timeZone)
  if (!f) {
    // hourCycle h23: midnight is 00, not 24. Throws RangeError for an unknown zone (the registry validates zones).
    f = new Intl.DateTimeFormat('en-US', { timeZone, hourCycle: 'h23', year: 'numeric', month: 'numeric', day: 'numeric', hour: 'numeric', minute: 'numeric', second: 'numeric' })
    formatters.set(timeZone, f)
  }
  const r = { year: 0, month: 0, day: 0, hour: 0, minute: 0, second: 0 }
  for (const part of f.formatToParts(utcMs)) {
    if (part.type in r) r[part.type as keyof typeof r] = Number(part.value)
  }
  return r
}

function minutesOf(hhmm: string, shift: string): number {
  const m = HHMM.exec(hhmm)
  // The registry schema validates shift times; reaching this is a bug, not bad input.
  if (!m) throw new AppError('IIOT_ERR_INTERNAL', `shift "${shift}": time "${hhmm}" is not HH:MM`)
  return Number(m[1]) * 60 + Number(m[2])
}
