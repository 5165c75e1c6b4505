import { boolField, floatField, intField, stringField, line } from '../domain/line-protocol.js'
import { machineKey } from '../domain/machine-key.js'
import { MEASUREMENTS } from '../domain/measurements.js'
import type { DecodedMessage, Inspection, ProductionReport, Sample, StateChange } from '../domain/records.js'
import type { GatewayTopic, MachineTopic } from '../domain/topic.js'
import type { AcceptedMessage } from '../pipeline/pipeline.js'
import { machineTags, toLines, type Trackers } from '../pipeline/to-lines.js'
import type { Validate } from '../pipeline/validate.js'
import type { SparkplugMapping } from '../registry/registry-schema.js'
import { MATERIAL_METRIC, movementsOf } from './material-dataset.js'
import type { SpDataSet } from './payload.js'
import { plainSignal } from './signal-names.js'
import type { SpValue } from './values.js'

/** A metric resolved against its birth and checked against its datatype. */
export interface ResolvedMetric {
  readonly name: string
  /** null: the metric's `is_null`. */
  readonly value: SpValue | null
  readonly unit: string
  readonly tsMs: number
  /** `is_historical`: stored at its own time, never moves the live state. */
  readonly historical: boolean
  /** A DataSet metric's table (`value` is then null). */
  readonly dataset?: SpDataSet
}

export interface Rejected {
  readonly reason: string
  readonly message: string
}

/** The last counter values of a machine, so a message carrying only one of them still makes a report. */
export type CounterMemory = Map<string, { good: number | undefined; reject: number | undefined }>

export interface Target {
  readonly gatewayId: string
  readonly gatewayTopic: GatewayTopic
  /** The machine the metrics belong to; undefined for an edge node that is not one. */
  readonly machine: MachineTopic | undefined
  /** The birth's signal for each of its metric names (birthSignals): distinct, where plain forms would not be. */
  readonly signals?: ReadonlyMap<string, string>
}

/** A Sparkplug metric name as a telemetry signal outside a birth's names (template members): its plain form (signal-names.ts). */
export function signalName(metric: string): string {
  let s = signals.get(metric)
  if (s === undefined) {
    s = plainSignal(metric)
    // Metric names repeat (one set per device): each is mapped once. Bounded.
    if (signals.size >= 100_000) signals.clear()
    signals.set(metric, s)
  }
  return s
}
const signals = new Map<string, string>()

function asNumber(v: SpValue | null): number | undefined {
  if (typeof v === 'number') return v
  if (typeof v === 'bigint') return Number(v)
  if (typeof v === 'boolean') return v ? 1 : 0
  return undefined
}

/** A map key for a state value: "3", "true", "RUN". */
function stateKey(v: SpValue | null): string {
  return v === null ? 'null' : Array.isArray(v) ? JSON.stringify(v) : String(v)
}

/** A telemetry point's value fields: numbers as `value` (exact to 2^53), larger integers and arrays exactly as text. */
function valueFields(v: SpValue | null): string {
  if (v === null) return 'is_null=true'
  if (typeof v === 'number') return 'value=' + floatField(v)
  if (typeof v === 'boolean') return 'value_bool=' + boolField(v)
  if (typeof v === 'string') return 'value_str=' + stringField(v)
  if (typeof v === 'bigint') return 'value_str=' + stringField(v.toString())
  return 'value_str=' + stringField(JSON.stringify(v, (_k, x: unknown) => (typeof x === 'bigint' ? x.toString() : x)))
}

function sampleValue(v: SpValue | null): Sample['value'] {
  if (v === null) return ''
  if (typeof v === 'number' || typeof v === 'boolean' || typeof v === 'string') return v
  return typeof v === 'bigint' ? v.toString() : JSON.stringify(v, (_k, x: unknown) => (typeof x === 'bigint' ? x.toString() : x))
}

/**
 * Sparkplug metrics as the records an iiot/v1 gateway would have sent (docs/sparkplug.md): the
 * factory's mapping names the state, counter, cycle-time, inspection and link metrics; every
 * other metric is telemetry. State, production, quality and connectivity lines come from the
 * same `toLines` as iiot/v1, so equipment state, timeline, OEE and SPC read them alike. The
 * material movements metric (a DataSet) becomes the material message iiot/v1 would have sent,
 * checked by the same `validate` (material-dataset.ts).
 */
export function toRecords(target: Target, metrics: readonly ResolvedMetric[], mapping: SparkplugMapping | undefined, trackers: Trackers, counters: CounterMemory, seq: number, nowMs: number, validate: Validate): { accepted: AcceptedMessage[]; rejected: Rejected[] } {
  const accepted: AcceptedMessage[] = []
  const rejected: Rejected[] = []
  const t = target.machine
  const samples: Sample[] = []
  const telemetryLines: string[] = []
  const changes: StateChange[] = []
  const historicalStates: string[] = []
  const inspections: Inspection[] = []
  const materials: DecodedMessage[] = []
  const materialMetric = mapping?.materialMovements ?? MATERIAL_METRIC
  const link: Record<string, number> = {}
  let counts: { good?: number; reject?: number; cycleTimeS?: number; tsMs: number } | undefined
  // A state's reason sent as its own metric (mapping.state.reasonMetric), by timestamp.
  const reasonMetric = mapping?.state?.reasonMetric
  const reasons = new Map<number, string>()
  if (reasonMetric !== undefined) for (const m of metrics) if (m.name === reasonMetric && typeof m.value === 'string') reasons.set(m.tsMs, m.value)
  const linkByMetric = new Map<string, string>()
  if (mapping?.link) for (const k of ['rsrpDbm', 'rsrqDb', 'sinrDb', 'rttMs'] as const) if (mapping.link[k]) linkByMetric.set(mapping.link[k]!, k)

  for (const m of metrics) {
    if (m.dataset || m.name === materialMetric) {
      if (m.name !== materialMetric) {
        rejected.push({ reason: 'unsupported_datatype', message: `metric "${m.name}" is a DataSet, which is stored only as the material movements metric "${materialMetric}" (docs/sparkplug.md)` })
        continue
      }
      if (!m.dataset) {
        // A null DataSet: nothing moved. Anything else under this name is not a table of movements.
        if (m.value !== null) rejected.push({ reason: 'bad_dataset', message: `metric "${m.name}" must be a DataSet (datatype 16) of material movements` })
        continue
      }
      if (!t) {
        if ((m.dataset.rows?.length ?? 0) > 0) rejected.push({ reason: 'invalid_payload', message: `material movements of an edge node the registry gives no machine: report them in the DBIRTH/DDATA of the device of the machine` })
        continue
      }
      const read = movementsOf(m.name, m.dataset, { seq, tsMs: m.tsMs, nowMs }, validate)
      if (!read.ok) rejected.push({ reason: read.reason, message: read.message })
      else if (read.message) materials.push(read.message)
      continue
    }
    const linkField = linkByMetric.get(m.name)
    if (linkField !== undefined) {
      const n = asNumber(m.value)
      if (n !== undefined) link[linkField] = n
      continue
    }
    if (!t) continue
    if (m.name === reasonMetric) {
      if (m.value !== null && (typeof m.value !== 'string' || m.value.length > 64)) rejected.push({ reason: 'invalid_payload', message: `reason metric "${m.name}" must be a String of at most 64 characters` })
      continue
    }
    const n = asNumber(m.value)
    if (mapping?.state && m.name === mapping.state.metric) {
      const to = mapping.state.values[stateKey(m.value)]
      if (!to) {
        rejected.push({ reason: 'unmapped_state_value', message: `state metric "${m.name}" has value ${stateKey(m.value)}, which the factory's Sparkplug mapping does not name` })
        continue
      }
      const sent = reasons.get(m.tsMs)
      const change: StateChange = { state: to.state, reasonCode: to.reasonCode ?? (sent !== undefined && sent.length <= 64 ? sent : ''), alarmCodes: [], tsMs: m.tsMs }
      if (m.historical) historicalStates.push(line(MEASUREMENTS.state, machineTags(t), { state: stringField(change.state), reason: change.reasonCode === '' ? undefined : stringField(change.reasonCode), since_ms: intField(change.tsMs), seq: intField(seq) }, change.tsMs))
      else changes.push(change)
      continue
    }
    if (mapping && (m.name === mapping.goodCount || m.name === mapping.rejectCount || m.name === mapping.cycleTime)) {
      if (n === undefined || !Number.isFinite(n) || n < 0) {
        rejected.push({ reason: 'invalid_payload', message: `production metric "${m.name}" must be a non-negative number` })
        continue
      }
      counts ??= { tsMs: m.tsMs }
      counts.tsMs = Math.max(counts.tsMs, m.tsMs)
      if (m.name === mapping.goodCount) counts.good = Math.trunc(n)
      else if (m.name === mapping.rejectCount) counts.reject = Math.trunc(n)
      else counts.cycleTimeS = n
      continue
    }
    const insp = mapping?.inspections.find((i) => i.metric === m.name)
    if (insp) {
      if (n === undefined || !Number.isFinite(n)) {
        rejected.push({ reason: 'invalid_payload', message: `inspection metric "${m.name}" must be a number` })
        continue
      }
      const hasLimits = insp.lsl !== undefined || insp.usl !== undefined
      const pass = hasLimits ? (insp.lsl === undefined || n >= insp.lsl) && (insp.usl === undefined || n <= insp.usl) : undefined
      inspections.push({ characteristic: insp.characteristic, value: n, lsl: insp.lsl, usl: insp.usl, target: insp.target, unit: insp.unit ?? m.unit, pass, defectCode: '', lot: '', tsMs: m.tsMs })
      continue
    }
    const signal = target.signals?.get(m.name) ?? signalName(m.name)
    samples.push({ signal, value: sampleValue(m.value), unit: m.unit, tsMs: m.tsMs, quality: m.value === null ? 'bad' : 'good' })
    const unit = m.unit === '' ? '' : ',unit=' + stringField(m.unit)
    // The signal needs no escaping: signal-names.ts leaves only [A-Za-z0-9_.:/-].
    telemetryLines.push(`${MEASUREMENTS.telemetry},factory=${t.factory},line=${t.line},machine=${t.machine},signal=${signal},zone=${t.zone} ${valueFields(m.value)}${unit},quality=${m.value === null ? '"bad"' : '"good"'},seq=${intField(seq)} ${m.tsMs}`)
  }

  const header = { seq, sentTsMs: nowMs }
  const emit = (kind: MachineTopic['kind'], message: DecodedMessage, extra: readonly string[] = []) => {
    const topic: MachineTopic = { ...t!, kind }
    accepted.push({ topic, gatewayId: target.gatewayId, message, lines: [...extra, ...toLines(topic, message, trackers)] })
  }
  if (t && (samples.length > 0 || telemetryLines.length > 0)) {
    accepted.push({ topic: { ...t, kind: 'telemetry' }, gatewayId: target.gatewayId, message: { ...header, kind: 'telemetry', samples }, lines: telemetryLines })
  }
  if (t && (changes.length > 0 || historicalStates.length > 0)) emit('state', { ...header, kind: 'state', changes }, historicalStates)
  if (t && counts) {
    const key = machineKey(t.zone, t.factory, t.line, t.machine)
    const memory = counters.get(key) ?? { good: undefined, reject: undefined }
    if (counts.good !== undefined) memory.good = counts.good
    if (counts.reject !== undefined) memory.reject = counts.reject
    counters.set(key, memory)
    const haveCounts = counts.good !== undefined || counts.reject !== undefined
    const report: ProductionReport = haveCounts
      ? { mode: 'counter', good: memory.good ?? 0, reject: memory.reject ?? 0, cycleTimeS: counts.cycleTimeS, workOrder: '', product: '', tsMs: counts.tsMs }
      : { mode: 'delta', good: 0, reject: 0, cycleTimeS: counts.cycleTimeS, workOrder: '', product: '', tsMs: counts.tsMs }
    emit('production', { ...header, kind: 'production', reports: [report] })
  }
  if (t && inspections.length > 0) emit('quality', { ...header, kind: 'quality', inspections })
  for (const message of materials) emit('material', message)
  if (mapping?.link && Object.keys(link).length > 0) {
    const ts = metrics.reduce((a, m) => Math.max(a, m.tsMs), 0)
    const message: DecodedMessage = { ...header, kind: 'connectivity', reports: [{ access: mapping.link.access, rsrpDbm: link['rsrpDbm'], rsrqDb: link['rsrqDb'], sinrDb: link['sinrDb'], rttMs: link['rttMs'], uplinkMbps: undefined, downlinkMbps: undefined, cellId: '', tsMs: ts }] }
    accepted.push({ topic: target.gatewayTopic, gatewayId: target.gatewayId, message, lines: toLines(target.gatewayTopic, message, trackers) })
  }
  return { accepted, rejected }
}
