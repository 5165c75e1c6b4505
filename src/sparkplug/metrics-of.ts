import type { IngestLimits } from '../config/config.js'
import { describeTime } from '../pipeline/validate.js'
import type { BirthDefs, MetricDef } from './birth-store.js'
import type { SpMetric, SpPayload, SpPropertySet } from './payload.js'
import type { ResolvedMetric, Rejected } from './to-records.js'
import { DataType, metricValue } from './values.js'

/** The iiot/v1 limits a Sparkplug metric is held to as well (config.ts, INGEST_*). */
export type MetricLimits = Pick<IngestLimits, 'maxFutureSkewMs' | 'maxAgeMs' | 'maxStringLength'>

export type BirthRead = { ok: true; bdSeq: string; defs: MetricDef[] } | { ok: false; reason: string; message: string }

/** Metrics that are the protocol's own, not data: bdSeq and the Node Control folder (Sparkplug 3.0, 6.4.7). */
function isControl(name: string): boolean {
  return name === 'bdSeq' || name.startsWith('Node Control/')
}

function flatProperties(p: SpPropertySet | undefined): Record<string, string | number | boolean> {
  const out: Record<string, string | number | boolean> = {}
  if (!p) return out
  p.keys.forEach((k, i) => {
    const v = p.values[i]
    if (!v || v.isNull || v.value === undefined) return
    const x: unknown = (v as Record<string, unknown>)[v.value]
    if (typeof x === 'string' || typeof x === 'number' || typeof x === 'boolean') out[k] = x
    else if (typeof x === 'bigint') out[k] = x <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(x) : x.toString()
  })
  return out
}

/** The bdSeq metric of an NBIRTH or NDEATH (decimal), if any. */
export function bdSeqOf(payload: SpPayload): string | undefined {
  const m = payload.metrics.find((x) => x.name === 'bdSeq')
  if (!m) return undefined
  if (m.value === 'longValue') return m.longValue!.toString()
  if (m.value === 'intValue') return String(m.intValue)
  return undefined
}

/**
 * The metric definitions of a birth (Sparkplug 3.0, 6.4.10): every metric named, with a datatype,
 * aliases unique; an NBIRTH carries bdSeq. A birth that breaks one of these is rejected whole.
 */
export function readBirth(payload: SpPayload, isNode: boolean): BirthRead {
  const bdSeq = bdSeqOf(payload)
  if (isNode && bdSeq === undefined) return { ok: false, reason: 'missing_bdseq', message: 'an NBIRTH must carry the bdSeq metric (UInt64)' }
  const defs: MetricDef[] = []
  const aliases = new Set<string>()
  const names = new Set<string>()
  for (const m of payload.metrics) {
    if (m.name === undefined || m.name === '') return { ok: false, reason: 'invalid_birth', message: 'every metric of a birth must have a name' }
    if (m.datatype === undefined || m.datatype === 0) return { ok: false, reason: 'invalid_birth', message: `metric "${m.name}" of a birth has no datatype` }
    if (names.has(m.name)) return { ok: false, reason: 'invalid_birth', message: `metric "${m.name}" appears twice in the birth` }
    names.add(m.name)
    const alias = m.alias?.toString()
    if (alias !== undefined) {
      if (aliases.has(alias)) return { ok: false, reason: 'duplicate_alias', message: `alias ${alias} is used by more than one metric of the birth` }
      aliases.add(alias)
    }
    defs.push({ name: m.name, alias, datatype: m.datatype, properties: flatProperties(m.properties) })
  }
  return { ok: true, bdSeq: bdSeq ?? '', defs }
}

const tsOf = (m: SpMetric, payload: SpPayload, fallbackMs: number): number => Number(m.timestamp ?? payload.timestamp ?? BigInt(fallbackMs))

function unitOf(def: MetricDef | undefined): string {
  const u = def?.properties['engUnit'] ?? def?.properties['engUnits'] ?? def?.properties['unit']
  return typeof u === 'string' ? u.slice(0, 32) : ''
}

/**
 * The metrics of a birth or data message resolved against the birth's definitions: by alias
 * when the metric has one, else by name. A metric that resolves to nothing, does not fit its
 * datatype, or has a type we do not store is a rejection with its reason; the other metrics of
 * the message go on. `is_transient` metrics are not stored (6.4.10); templates are flattened
 * into `template/member` metrics.
 */
export function resolveData(payload: SpPayload, defs: BirthDefs, receivedMs: number, limits: MetricLimits): { metrics: ResolvedMetric[]; rejected: Rejected[]; unknownAlias: boolean } {
  const metrics: ResolvedMetric[] = []
  const rejected: Rejected[] = []
  let unknownAlias = false
  /** The iiot/v1 limits on a sample (validate.ts), judged by the broker's receive time; the rejection, if any. */
  const outOfLimits = (name: string, tsMs: number, value: unknown): Rejected | undefined => {
    if (tsMs > receivedMs + limits.maxFutureSkewMs) return { reason: 'future_timestamp', message: `metric "${name}": timestamp ${describeTime(tsMs)} is more than ${limits.maxFutureSkewMs} ms in the future (check the edge node's clock)` }
    if (tsMs < receivedMs - limits.maxAgeMs) return { reason: 'stale_timestamp', message: `metric "${name}": timestamp ${describeTime(tsMs)} is older than ${limits.maxAgeMs} ms` }
    if (typeof value === 'string' && value.length > limits.maxStringLength) return { reason: 'string_too_long', message: `string value of metric "${name}" exceeds ${limits.maxStringLength} characters` }
    return undefined
  }
  const visit = (m: SpMetric, def: MetricDef | undefined, name: string, depth: number): void => {
    const datatype = m.datatype ?? def?.datatype
    if (datatype === undefined) return void rejected.push({ reason: 'invalid_payload', message: `metric "${name}" has no datatype` })
    if (m.isTransient) return
    if (datatype === DataType.Template) {
      const tv = m.templateValue
      if (m.isNull || !tv) return void accept({ name, value: null, unit: '', tsMs: tsOf(m, payload, receivedMs), historical: m.isHistorical === true })
      if (tv.isDefinition) return
      if (depth > 8) return void rejected.push({ reason: 'unsupported_datatype', message: `template "${name}" nests deeper than 8 levels` })
      for (const member of tv.metrics) {
        if (!member.name) continue
        visit({ ...member, timestamp: member.timestamp ?? m.timestamp, isHistorical: member.isHistorical ?? m.isHistorical }, undefined, `${name}/${member.name}`, depth + 1)
      }
      return
    }
    if (datatype === DataType.DataSet && !m.isNull) {
      // A table: only the material movements metric is one we read (to-records.ts); the mapping decides.
      if (m.value !== 'datasetValue' || !m.datasetValue) return void rejected.push({ reason: 'datatype_mismatch', message: `metric "${name}" declares datatype DataSet but carries ${m.value ?? 'no value'}` })
      return void metrics.push({ name, value: null, dataset: m.datasetValue, unit: '', tsMs: tsOf(m, payload, receivedMs), historical: m.isHistorical === true })
    }
    // Data by alias carries no name: messages name the metric as its birth did.
    const v = metricValue(datatype, m.name === name ? m : { ...m, name })
    if (!v.ok) return void rejected.push({ reason: v.reason, message: v.message })
    accept({ name, value: v.value, unit: unitOf(def), tsMs: tsOf(m, payload, receivedMs), historical: m.isHistorical === true })
  }
  const accept = (r: ResolvedMetric): void => {
    const problem = outOfLimits(r.name, r.tsMs, r.value)
    if (problem) rejected.push(problem)
    else metrics.push(r)
  }
  for (const m of payload.metrics) {
    const def = m.alias !== undefined ? defs.byAlias.get(m.alias.toString()) : m.name !== undefined ? defs.byName.get(m.name) : undefined
    if (!def) {
      unknownAlias = true
      rejected.push({ reason: 'unknown_alias', message: m.alias !== undefined ? `alias ${m.alias} is not in the last birth` : `metric "${m.name ?? '(no name)'}" is not in the last birth` })
      continue
    }
    if (isControl(def.name)) continue
    if (m.datatype !== undefined && m.datatype !== def.datatype) {
      rejected.push({ reason: 'datatype_mismatch', message: `metric "${def.name}" was born as datatype ${def.datatype} but arrives as ${m.datatype}` })
      continue
    }
    visit(m, def, def.name, 0)
  }
  return { metrics, rejected, unknownAlias }
}
