import { z } from 'zod'
import { NAME_PATTERN, SLUG_PATTERN } from '../domain/ids.js'
import { badRequest } from './problem.js'

export const slugParam = z.string().regex(SLUG_PATTERN, 'must be a lowercase id ([a-z0-9][a-z0-9-]{0,62})')
export const nameParam = z.string().regex(NAME_PATTERN, 'must be 1-128 characters of [A-Za-z0-9_.:/-]')
/** The instants InfluxDB can store (nanoseconds in a signed 64-bit integer), whole days inside them. */
const EARLIEST_MS = Date.UTC(1677, 8, 22)
const LATEST_MS = Date.UTC(2262, 3, 11)
export const timeParam = z.iso
  .datetime({ offset: true, message: 'must be an ISO 8601 date-time such as 2026-11-25T08:00:00Z' })
  .refine((v) => {
    const t = Date.parse(v)
    // Not a date at all: the format's own message says so.
    return Number.isNaN(t) || (t >= EARLIEST_MS && t <= LATEST_MS)
  }, 'must be between 1677-09-22 and 2262-04-11, the times InfluxDB stores')
/** At most 100 years: a longer one overflows InfluxDB's durations (nanoseconds in 64 bits). */
const MAX_DURATION_MS = 36_500 * 86_400_000
export const durationParam = z
  .string()
  .regex(/^[1-9]\d{0,8}(ms|s|m|h|d)$/, 'must be a duration such as 500ms, 10s, 5m, 1h or 1d')
  // Not a duration at all (NaN): the pattern's own message says so.
  .refine((v) => !(durationMs(v) > MAX_DURATION_MS), 'must be at most 36500d (100 years)')

/** A finite decimal number; an empty or blank value is an error, not 0 (what z.coerce.number() makes of it). */
export const numberParam = z
  .string()
  .regex(/^-?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$/, 'must be a number such as 25.05')
  .transform(Number)
  .refine(Number.isFinite, 'must be a finite number')

export const scopeQuery = {
  zone: slugParam.optional(),
  factory: slugParam.optional(),
  line: slugParam.optional(),
  machine: slugParam.optional(),
}

const UNIT_MS = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 } as const

/** A duration such as 500ms or 1d in milliseconds; NaN for text that is not one. */
export function durationMs(text: string): number {
  const m = /^(\d+)(ms|s|m|h|d)$/.exec(text)
  return m ? Number(m[1]) * UNIT_MS[m[2] as keyof typeof UNIT_MS] : NaN
}

export interface Window {
  readonly startMs: number
  readonly endMs: number
}

/** A validated time window: end defaults to now, start to end minus `defaultMs`; bounded by `maxMs`. */
export function resolveWindow(start: string | undefined, end: string | undefined, defaultMs: number, maxMs: number): Window {
  const endMs = end === undefined ? Date.now() : Date.parse(end)
  const startMs = start === undefined ? endMs - defaultMs : Date.parse(start)
  if (endMs <= startMs) throw badRequest('end', 'must be after start')
  if (endMs - startMs > maxMs) throw badRequest('start', `window longer than the maximum of ${Math.round(maxMs / 86_400_000)} days`)
  return { startMs, endMs }
}

/** A report's window (connectivity, park overview): a calendar year in UTC, or start/end; and its format. */
export const reportQuery = {
  zone: scopeQuery.zone,
  factory: scopeQuery.factory,
  year: z.coerce.number().int().min(2000).max(2100).optional(),
  start: timeParam.optional(),
  end: timeParam.optional(),
  format: z.enum(['json', 'csv']).default('json'),
}

/** `year` (UTC), or `start`/`end` defaulting to the last 30 days; never both. */
export function reportWindow(q: { year?: number | undefined; start?: string | undefined; end?: string | undefined }, maxMs: number): Window {
  if (q.year !== undefined && (q.start !== undefined || q.end !== undefined)) throw badRequest('year', 'give either year or start/end, not both')
  return q.year !== undefined ? { startMs: Date.UTC(q.year, 0, 1), endMs: Date.UTC(q.year + 1, 0, 1) } : resolveWindow(q.start, q.end, 30 * 86_400_000, maxMs)
}
