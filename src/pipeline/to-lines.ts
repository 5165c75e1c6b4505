import { MEASUREMENTS } from '../domain/measurements.js'
import { boolField, escapeTag, floatField, intField, line, stringField } from '../domain/line-protocol.js'
import type { DecodedMessage, Sample } from '../domain/records.js'
import type { GatewayTopic, MachineTopic } from '../domain/topic.js'
import type { LiveStateTable } from '../domain/live-state.js'
import { machineKey } from '../domain/machine-key.js'
import type { CounterTracker } from './counter-tracker.js'
import type { MaterialTracker } from './material-tracker.js'

/** Per-machine memory the mapping needs: counters for deltas, the live table for "since", loaded lots for material warnings. */
export interface Trackers {
  readonly counters: CounterTracker
  readonly live: LiveStateTable
  /** Absent: material movements are mapped without warnings. */
  readonly materials?: MaterialTracker
}

/**
 * Maps a validated message to line protocol (docs/storage.md): one
 * measurement per kind, identity as tags (sorted by key, as InfluxDB prefers),
 * values as fields, explicit millisecond timestamps. Nothing unbounded
 * (sequence numbers, work orders, lots, cell ids) is a tag.
 */
const str = (v: string): string | undefined => (v === '' ? undefined : stringField(v))
const optFloat = (v: number | undefined): string | undefined => (v === undefined ? undefined : floatField(v))

export function machineTags(t: MachineTopic): string {
  return `factory=${t.factory},line=${t.line},machine=${t.machine},zone=${t.zone}`
}

export function toLines(topic: MachineTopic | GatewayTopic, message: DecodedMessage, trackers: Trackers): string[] {
  const out: string[] = []
  const seq = intField(message.seq)
  if (message.kind === 'connectivity') {
    const t = topic as GatewayTopic
    const base = `factory=${t.factory},gateway=${t.gateway}`
    for (const r of message.reports) {
      out.push(
        line(MEASUREMENTS.connectivity, `access=${r.access},${base},zone=${t.zone}`, {
          rsrp_dbm: optFloat(r.rsrpDbm),
          rsrq_db: optFloat(r.rsrqDb),
          sinr_db: optFloat(r.sinrDb),
          rtt_ms: optFloat(r.rttMs),
          uplink_mbps: optFloat(r.uplinkMbps),
          downlink_mbps: optFloat(r.downlinkMbps),
          cell_id: str(r.cellId),
          seq,
        }, r.tsMs),
      )
    }
    return out
  }
  const t = topic as MachineTopic
  const tags = machineTags(t)
  switch (message.kind) {
    case 'telemetry': {
      const prefix = `factory=${t.factory},line=${t.line},machine=${t.machine},signal=`
      const suffix = `,zone=${t.zone}`
      for (const s of message.samples) out.push(MEASUREMENTS.telemetry + ',' + prefix + escapeTag(s.signal) + suffix + ' ' + sampleFields(s, seq) + ' ' + s.tsMs)
      break
    }
    case 'state': {
      const key = machineKey(t.zone, t.factory, t.line, t.machine)
      for (const c of message.changes) {
        const since = trackers.live.applyState(key, c)
        out.push(line(MEASUREMENTS.state, tags, { state: stringField(c.state), reason: str(c.reasonCode), alarms: str(c.alarmCodes.join(',')), since_ms: intField(since), seq }, c.tsMs))
      }
      break
    }
    case 'production':
      for (const r of message.reports) {
        // A counter's first report since this process started has no previous value: its delta fields
        // are left out rather than written as 0, so a report decoded again from the journal after a
        // restart never overwrites the delta it was stored with; so is a repeat of the previous report (docs/delivery.md).
        const counts = r.mode === 'counter' ? trackers.counters.delta(tags, r.good, r.reject, r.tsMs) : r
        out.push(
          line(MEASUREMENTS.production, tags, {
            good: counts ? intField(counts.good) : undefined,
            reject: counts ? intField(counts.reject) : undefined,
            total: counts ? intField(counts.good + counts.reject) : undefined,
            cycle_time_s: optFloat(r.cycleTimeS),
            counter_good: r.mode === 'counter' ? intField(r.good) : undefined,
            counter_reject: r.mode === 'counter' ? intField(r.reject) : undefined,
            work_order: str(r.workOrder),
            product: str(r.product),
            seq,
          }, r.tsMs),
        )
      }
      break
    case 'quality': {
      const prefix = `characteristic=`
      for (const i of message.inspections) {
        out.push(
          line(MEASUREMENTS.quality, prefix + escapeTag(i.characteristic) + ',' + tags, {
            value: floatField(i.value),
            lsl: optFloat(i.lsl),
            usl: optFloat(i.usl),
            target: optFloat(i.target),
            unit: str(i.unit),
            pass: i.pass === undefined ? undefined : boolField(i.pass),
            defect_code: str(i.defectCode),
            lot: str(i.lot),
            seq,
          }, i.tsMs),
        )
      }
      break
    }
    case 'material': {
      // Lots, work orders and materials are fields, not tags: they are unbounded (docs/materials.md).
      const key = machineKey(t.zone, t.factory, t.line, t.machine)
      for (const m of message.movements) {
        const warning = trackers.materials?.apply(key, m)
        out.push(
          line(MEASUREMENTS.material, `factory=${t.factory},line=${t.line},machine=${t.machine},movement=${m.movement},zone=${t.zone}`, {
            material: stringField(m.material),
            lot: stringField(m.lot),
            quantity: floatField(m.quantity),
            unit: stringField(m.unit),
            work_order: str(m.workOrder),
            warning: warning === undefined ? undefined : stringField(warning),
            seq,
          }, m.tsMs),
        )
      }
      break
    }
  }
  return out
}

/** Quality strings are fixed: quote them once, not per point. */
const QUALITY_FIELD: Readonly<Record<string, string>> = { good: '"good"', uncertain: '"uncertain"', bad: '"bad"' }

/**
 * A telemetry point's field set, built as one string: this runs once per
 * sample (the hot path), so no intermediate object. One field per value type:
 * InfluxDB fixes a field's type per shard, so a float and a bool under one
 * name would conflict across signals.
 */
function sampleFields(s: Sample, seq: string): string {
  const v = s.value
  const value = typeof v === 'number' ? 'value=' + floatField(v) : typeof v === 'boolean' ? 'value_bool=' + boolField(v) : 'value_str=' + stringField(v)
  return value + (s.unit === '' ? '' : ',unit=' + stringField(s.unit)) + ',quality=' + (QUALITY_FIELD[s.quality] ?? stringField(s.quality)) + ',seq=' + seq
}
