import { z } from 'zod'
import type { IngestLimits } from '../config/config.js'
import { NAME_PATTERN } from '../domain/ids.js'
import {
  MATERIAL_UNITS,
  MACHINE_STATES,
  MOVEMENTS,
  RADIO_ACCESSES,
  SIGNAL_QUALITIES,
  type DecodedMessage,
  type Inspection,
  type LinkReport,
  type MaterialMovement,
  type ProductionReport,
  type Sample,
  type StateChange,
} from '../domain/records.js'
import type { Kind } from '../domain/topic.js'

/**
 * Semantic validation (the second of the two steps in docs/gateway-contract.md):
 * what protobuf's wire format cannot say. Input is the decoded protobuf
 * message (unset fields read as their proto3 defaults, unset `optional`
 * fields as null); output is a domain record.
 *
 * Each failure carries a bounded `reason` code (metrics label) and a message
 * saying what to fix.
 */
export type RejectionReasonCode =
  | 'invalid_name'
  | 'non_finite_number'
  | 'invalid_enum'
  | 'missing_value'
  | 'empty_batch'
  | 'batch_too_large'
  | 'string_too_long'
  | 'future_timestamp'
  | 'stale_timestamp'
  | 'invalid_payload'
  | 'unknown_unit'
  | 'negative_quantity'

export interface ValidationFailure {
  readonly reason: RejectionReasonCode
  readonly message: string
}

export type ValidationResult = { ok: true; message: DecodedMessage } | { ok: false; failure: ValidationFailure }

const custom = (reason: RejectionReasonCode, message: string) => ({ message, params: { reason } })

/** `nowMs` defaults to the clock given here: the time skew and missing timestamps are judged against it. */
export type Validate = (kind: Kind, decoded: unknown, nowMs?: number) => ValidationResult

export function createValidator(limits: IngestLimits, now: () => number = Date.now): Validate {
  const text = z.string().max(limits.maxStringLength)
  const name = z.string().regex(NAME_PATTERN, 'must be 1-128 characters of [A-Za-z0-9_.:/-]')
  const finite = z.number() // zod 4 rejects NaN and ±Infinity
  const optFinite = finite.nullish().transform((v) => v ?? undefined)
  // A whole number of ms, however large or negative: one outside the window is a future_timestamp or a
  // stale_timestamp (checkTimes), which says more than invalid_payload. protobufjs reads an int64 past
  // 2^53 as the nearest double (its Long support is off: proto-schema.ts), which is whole too.
  const ts = z.number().refine(Number.isInteger, 'must be a whole number of milliseconds')
  const batch = <T extends z.ZodType>(item: T) => z.array(item).min(1, 'batch is empty').max(limits.maxBatch, `batch holds more than ${limits.maxBatch} items`)
  const header = { seq: z.number().int().nonnegative(), sentTsMs: ts }

  const enumOf = <const T extends readonly string[]>(values: T, what: string) =>
    z.number().int().transform((n, ctx) => {
      const v = values[n - 1]
      if (v === undefined) {
        ctx.addIssue({ code: 'custom', ...custom('invalid_enum', `unknown or unspecified ${what} ${n}`) })
        return z.NEVER
      }
      return v as T[number]
    })

  const sample = z
    .object({
      signal: name,
      value: z.enum(['doubleValue', 'intValue', 'boolValue', 'stringValue']).nullish(),
      doubleValue: z.unknown(),
      intValue: z.unknown(),
      boolValue: z.unknown(),
      stringValue: z.unknown(),
      unit: text,
      tsMs: ts,
      quality: z.number().int(),
    })
    .transform((s, ctx): Omit<Sample, 'tsMs'> & { tsMs: number } => {
      let value: number | boolean | string
      switch (s.value) {
        case 'doubleValue':
        case 'intValue':
          value = s[s.value] as number
          if (!Number.isFinite(value)) {
            ctx.addIssue({ code: 'custom', path: ['value'], ...custom('non_finite_number', `value of "${s.signal}" is not a finite number`) })
            return z.NEVER
          }
          break
        case 'boolValue':
          value = s.boolValue as boolean
          break
        case 'stringValue':
          value = s.stringValue as string
          if (value.length > limits.maxStringLength) {
            ctx.addIssue({ code: 'custom', path: ['value'], ...custom('string_too_long', `string value of "${s.signal}" exceeds ${limits.maxStringLength} characters`) })
            return z.NEVER
          }
          break
        default:
          ctx.addIssue({ code: 'custom', path: ['value'], ...custom('missing_value', `sample "${s.signal}" has no value`) })
          return z.NEVER
      }
      const quality = s.quality === 0 ? 'good' : SIGNAL_QUALITIES[s.quality - 1]
      if (quality === undefined) {
        ctx.addIssue({ code: 'custom', path: ['quality'], ...custom('invalid_enum', `unknown quality ${s.quality}`) })
        return z.NEVER
      }
      return { signal: s.signal, value, unit: s.unit, tsMs: s.tsMs, quality }
    })

  const stateChange = z.object({
    state: enumOf(MACHINE_STATES, 'machine state'),
    reasonCode: text,
    alarmCodes: z.array(text).max(64, 'more than 64 alarm codes'),
    tsMs: ts,
  }) satisfies z.ZodType<StateChange>

  const productionReport = z
    .object({
      mode: z.number().int().min(0).max(2),
      good: z.number().int().nonnegative(),
      reject: z.number().int().nonnegative(),
      cycleTimeS: finite.nonnegative(),
      workOrder: text,
      product: text,
      tsMs: ts,
    })
    .transform((r): ProductionReport => ({ ...r, mode: r.mode === 2 ? 'counter' : 'delta', cycleTimeS: r.cycleTimeS > 0 ? r.cycleTimeS : undefined }))

  const inspection = z
    .object({
      characteristic: name,
      value: finite,
      lsl: optFinite,
      usl: optFinite,
      target: optFinite,
      unit: text,
      verdict: z.number().int().min(0).max(2),
      defectCode: text,
      lot: text,
      tsMs: ts,
    })
    .transform((i): Inspection => {
      const derived = i.lsl === undefined && i.usl === undefined ? undefined : (i.lsl === undefined || i.value >= i.lsl) && (i.usl === undefined || i.value <= i.usl)
      const pass = i.verdict === 1 ? true : i.verdict === 2 ? false : derived
      return { characteristic: i.characteristic, value: i.value, lsl: i.lsl, usl: i.usl, target: i.target, unit: i.unit, pass, defectCode: i.defectCode, lot: i.lot, tsMs: i.tsMs }
    })

  const linkReport = z.object({
    access: enumOf(RADIO_ACCESSES, 'radio access'),
    rsrpDbm: optFinite,
    rsrqDb: optFinite,
    sinrDb: optFinite,
    rttMs: optFinite,
    uplinkMbps: optFinite,
    downlinkMbps: optFinite,
    cellId: text,
    tsMs: ts,
  }) satisfies z.ZodType<LinkReport>

  const units: ReadonlySet<string> = new Set(MATERIAL_UNITS)
  const movement = z
    .object({
      movement: enumOf(MOVEMENTS, 'movement'),
      material: name,
      lot: name,
      quantity: finite,
      unit: z.string(),
      workOrder: text,
      tsMs: ts,
    })
    .transform((m, ctx): MaterialMovement => {
      if (m.quantity < 0) ctx.addIssue({ code: 'custom', path: ['quantity'], ...custom('negative_quantity', `quantity ${m.quantity} of lot "${m.lot}" is negative`) })
      if (!units.has(m.unit)) ctx.addIssue({ code: 'custom', path: ['unit'], ...custom('unknown_unit', `unit "${m.unit.slice(0, 32)}" is not one of ${MATERIAL_UNITS.join(', ')}`) })
      // The work order is what links a machine's inputs to its outputs (docs/materials.md).
      if ((m.movement === 'consumed' || m.movement === 'produced') && m.workOrder === '') ctx.addIssue({ code: 'custom', path: ['workOrder'], ...custom('missing_value', `a ${m.movement} movement needs a work order`) })
      return m as MaterialMovement
    })
  const movements = batch(movement).superRefine((items, ctx) => {
    // One point per (machine, movement, timestamp): a second one would overwrite the first in InfluxDB.
    const seen = new Set<string>()
    items.forEach((m, i) => {
      const key = `${m.movement}@${m.tsMs}`
      if (m.tsMs !== 0 && seen.has(key)) ctx.addIssue({ code: 'custom', path: [i, 'tsMs'], ...custom('invalid_payload', `two ${m.movement} movements at ${m.tsMs}: give each its own millisecond`) })
      seen.add(key)
    })
  })

  const schemas = {
    telemetry: z.object({ ...header, samples: batch(sample) }),
    state: z.object({ ...header, changes: batch(stateChange) }),
    production: z.object({ ...header, reports: batch(productionReport) }),
    quality: z.object({ ...header, inspections: batch(inspection) }),
    connectivity: z.object({ ...header, reports: batch(linkReport) }),
    material: z.object({ ...header, movements }),
  } as const

  return (kind, decoded, nowMs) => {
    const parsed = schemas[kind].safeParse(decoded)
    if (!parsed.success) return { ok: false, failure: toFailure(parsed.error) }
    const message = { kind, ...parsed.data } as DecodedMessage & { sentTsMs: number }
    return checkTimes(message, limits, nowMs ?? now())
  }
}

/** Items with ts 0 take the message's send time (or the receive time); all must be within the skew window. */
function checkTimes(message: DecodedMessage & { sentTsMs: number }, limits: IngestLimits, nowMs: number): ValidationResult {
  if (message.sentTsMs === 0) message.sentTsMs = nowMs
  const items = itemsOf(message) as { tsMs: number }[]
  const newest = nowMs + limits.maxFutureSkewMs
  const oldest = nowMs - limits.maxAgeMs
  for (let i = 0; i < items.length; i++) {
    const item = items[i]!
    if (item.tsMs === 0) item.tsMs = message.sentTsMs
    if (item.tsMs > newest) {
      return { ok: false, failure: { reason: 'future_timestamp', message: `item ${i}: timestamp ${describeTime(item.tsMs)} is more than ${limits.maxFutureSkewMs} ms in the future (check the gateway clock)` } }
    }
    if (item.tsMs < oldest) {
      return { ok: false, failure: { reason: 'stale_timestamp', message: `item ${i}: timestamp ${describeTime(item.tsMs)} is older than ${limits.maxAgeMs} ms` } }
    }
  }
  return { ok: true, message }
}

/** The furthest a Date reaches either side of 1970 (toISOString() throws past it). */
const DATE_LIMIT_MS = 8.64e15
const MS_PER_YEAR = 365.2425 * 86_400_000

/**
 * A timestamp for a rejection's message: ISO 8601 where a Date can hold it (years -271821 to
 * 275760); past that, the milliseconds in full and the year, roughly. A value past 2^53 is the
 * nearest double to what the gateway sent (int64 fields are read as numbers), hence "about".
 */
export function describeTime(tsMs: number): string {
  if (Math.abs(tsMs) <= DATE_LIMIT_MS) return new Date(tsMs).toISOString()
  if (!Number.isFinite(tsMs)) return `${tsMs} ms`
  // Digits, not String()'s 1152921504606847000 or 1e+21.
  const ms = Number.isInteger(tsMs) ? BigInt(tsMs).toString() : String(tsMs)
  const year = Math.round(1970 + tsMs / MS_PER_YEAR).toLocaleString('en-US')
  return `${Number.isSafeInteger(tsMs) ? '' : 'about '}${ms} ms since 1970 (around the year ${year})`
}

export function itemsOf(message: DecodedMessage): readonly unknown[] {
  switch (message.kind) {
    case 'telemetry':
      return message.samples
    case 'state':
      return message.changes
    case 'production':
    case 'connectivity':
      return message.reports
    case 'quality':
      return message.inspections
    case 'material':
      return message.movements
  }
}

function toFailure(error: z.ZodError): ValidationFailure {
  const issue = error.issues[0]!
  const where = issue.path.join('.')
  const message = `${where ? where + ': ' : ''}${issue.message}`
  return { reason: reasonOf(issue), message }
}

function reasonOf(issue: z.core.$ZodIssue): RejectionReasonCode {
  switch (issue.code) {
    case 'custom':
      return (issue.params?.reason as RejectionReasonCode | undefined) ?? 'invalid_payload'
    case 'too_big':
      return issue.origin === 'array' ? 'batch_too_large' : issue.origin === 'string' ? 'string_too_long' : 'invalid_payload'
    case 'too_small':
      return issue.origin === 'array' ? 'empty_batch' : 'invalid_payload'
    case 'invalid_format':
      return 'invalid_name'
    case 'invalid_value':
      return 'invalid_enum'
    case 'invalid_type':
      return issue.expected === 'number' ? 'non_finite_number' : 'invalid_payload'
    default:
      return 'invalid_payload'
  }
}
