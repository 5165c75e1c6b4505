import type { DecodedMessage } from '../domain/records.js'
import type { AcceptedMessage } from '../pipeline/pipeline.js'

/**
 * The JSON `data` of a live-stream event: the message's identity, the
 * gateway, and the decoded message, or, when the telemetry fast path and its
 * reference path disagree (pipeline.ts), the lines that were journaled.
 */
export function streamEventJson(accepted: AcceptedMessage): string {
  const t = accepted.topic
  const m = accepted.message
  // The gateway of a gateway topic is the one that published (the ACL holds them equal): one key.
  const event = t.scope === 'machine' ? { zone: t.zone, factory: t.factory, line: t.line, machine: t.machine, kind: t.kind, gateway: accepted.gatewayId } : { zone: t.zone, factory: t.factory, gateway: accepted.gatewayId, kind: t.kind }
  return JSON.stringify(m === undefined ? { ...event, lines: accepted.lines } : { ...event, message: withNulls(m) })
}

/**
 * The decoded message with every absent optional field as null, as the REST
 * answers have it (docs/api.md, "Absent fields"): the decoded message holds
 * protobuf's default '' for an absent string and undefined for an absent
 * optional number or flag, which JSON would leave out. Copying the items is
 * the cheapest way to say so (a 50-sample message: 27 µs against 22 µs
 * unchanged; rewriting the text took 34 µs, a replacer 54 µs); an item
 * with nothing absent is not copied.
 */
function withNulls(m: DecodedMessage): object {
  switch (m.kind) {
    case 'telemetry':
      // The hot case (most messages, most items): its one optional field read by name.
      return { ...m, samples: m.samples.map((s) => (s.unit === '' ? { ...s, unit: null } : s)) }
    case 'state':
      return { ...m, changes: m.changes.map((c) => nullAbsent(c, CHANGE_OPTIONAL)) }
    case 'production':
      return { ...m, reports: m.reports.map((r) => nullAbsent(r, PRODUCTION_OPTIONAL)) }
    case 'quality':
      return { ...m, inspections: m.inspections.map((i) => nullAbsent(i, INSPECTION_OPTIONAL)) }
    case 'connectivity':
      return { ...m, reports: m.reports.map((r) => nullAbsent(r, LINK_OPTIONAL)) }
    case 'material':
      return { ...m, movements: m.movements.map((r) => nullAbsent(r, MOVEMENT_OPTIONAL)) }
  }
}

const CHANGE_OPTIONAL = ['reasonCode'] as const
const PRODUCTION_OPTIONAL = ['cycleTimeS', 'workOrder', 'product'] as const
const INSPECTION_OPTIONAL = ['lsl', 'usl', 'target', 'unit', 'pass', 'defectCode', 'lot'] as const
const MOVEMENT_OPTIONAL = ['workOrder'] as const
const LINK_OPTIONAL = ['rsrpDbm', 'rsrqDb', 'sinrDb', 'rttMs', 'uplinkMbps', 'downlinkMbps', 'cellId'] as const

/** `item`, or a copy of it with null for each of `optional` that is '' or undefined. */
function nullAbsent<T extends object>(item: T, optional: readonly (keyof T)[]): object {
  let copy: Record<keyof T, unknown> | undefined
  for (const k of optional) {
    const v = item[k]
    if (v !== '' && v !== undefined) continue
    copy ??= { ...item }
    copy[k] = null
  }
  return copy ?? item
}
