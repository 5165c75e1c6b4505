import type { DecodedMessage } from '../../src/domain/records.js'
import { KINDS, type Kind } from '../../src/domain/topic.js'

/**
 * The bench's messages, one shape per kind. The same function of (kind,
 * index, random stream) gives the protobuf body the gateways publish and the
 * domain record the service would make of it, so the `raw` ceiling writes the
 * same points (same series, fields and value sizes) as the service does.
 *
 * Telemetry carries `samples` samples (signals s0..sN-1); the other kinds one
 * item each. Every item of message `index` has the timestamp `base + index`,
 * so each message is one identifiable point per series.
 */
export type Mix = readonly { readonly kind: Kind; readonly weight: number }[]

/** A realistic plant mix: mostly telemetry, some events. */
export const PLANT_MIX = 'telemetry=90,state=3,production=3,quality=2,connectivity=2'

/** `telemetry` (default), `plant` or `kind=weight,...` over the five kinds. */
export function parseMix(text: string): Mix {
  const spec = text === 'plant' ? PLANT_MIX : text
  const mix: { kind: Kind; weight: number }[] = []
  for (const part of spec.split(',')) {
    const [kind, w] = part.split('=') as [string, string | undefined]
    if (!(KINDS as readonly string[]).includes(kind)) throw new Error(`--mix: unknown kind "${kind}" (one of ${KINDS.join(', ')})`)
    const weight = w === undefined ? 1 : Number(w)
    if (!Number.isFinite(weight) || weight < 0 || weight > 1e6) throw new Error(`--mix: weight of ${kind} must be a number from 0 to 1000000`)
    if (weight > 0) mix.push({ kind: kind as Kind, weight })
  }
  if (mix.length === 0) throw new Error('--mix: no kind with a positive weight')
  return mix
}

export function mixText(mix: Mix): string {
  return mix.map((m) => `${m.kind}=${m.weight}`).join(',')
}

/** Picks a kind for a uniform number r in [0, 1). */
export function pickKind(mix: Mix, r: number): Kind {
  if (mix.length === 1) return mix[0]!.kind
  let total = 0
  for (const m of mix) total += m.weight
  let x = r * total
  for (const m of mix) {
    if (x < m.weight) return m.kind
    x -= m.weight
  }
  return mix[mix.length - 1]!.kind
}

export function pointsPerMessage(kind: Kind, samples: number): number {
  return kind === 'telemetry' ? samples : 1
}

/** Mean points per message for a mix. */
export function meanPointsPerMessage(mix: Mix, samples: number): number {
  let total = 0
  let points = 0
  for (const m of mix) {
    total += m.weight
    points += m.weight * pointsPerMessage(m.kind, samples)
  }
  return points / total
}

const signalNames: string[] = []
export function signal(k: number): string {
  return (signalNames[k] ??= `s${k}`)
}

/** A value with a few decimals, like a sensor reading. */
const reading = (rnd: () => number, scale: number) => Math.round(rnd() * scale * 1000) / 1000

/** The value of one telemetry sample: what protoBody, domainRecord and the generator's bytes (telemetry-bytes.ts) all send. */
export const sampleValue = (rnd: () => number): number => reading(rnd, 100)

/** The protobuf body (plain object in protobufjs' camelCase form, enums as numbers) for `Type.encode`. */
export function protoBody(kind: Kind, samples: number, seq: number, tsMs: number, rnd: () => number): Record<string, unknown> {
  const header = { seq: seq >>> 0, sentTsMs: Date.now() }
  switch (kind) {
    case 'telemetry': {
      const items = new Array<unknown>(samples)
      for (let k = 0; k < samples; k++) items[k] = { signal: signal(k), doubleValue: sampleValue(rnd), tsMs }
      return { ...header, samples: items }
    }
    case 'state':
      return { ...header, changes: [{ state: 1 + (seq % 6), reasonCode: seq % 6 === 4 ? 'no-material' : '', alarmCodes: [], tsMs }] }
    case 'production':
      return { ...header, reports: [{ mode: 1, good: 1 + (seq % 3), reject: seq % 17 === 0 ? 1 : 0, cycleTimeS: 6 + reading(rnd, 1), workOrder: 'wo-1001', product: 'p-17', tsMs }] }
    case 'quality':
      return { ...header, inspections: [{ characteristic: 'c0', value: 50 + reading(rnd, 1), lsl: 49.5, usl: 50.5, target: 50, unit: 'mm', verdict: 0, defectCode: '', lot: 'lot-42', tsMs }] }
    case 'connectivity':
      return { ...header, reports: [{ access: 1, rsrpDbm: -80 - reading(rnd, 20), rsrqDb: -10, sinrDb: 15 + reading(rnd, 5), rttMs: 8 + reading(rnd, 10), uplinkMbps: 50, downlinkMbps: 200, cellId: 'cell-7', tsMs }] }
    case 'material':
      return { ...header, movements: [{ movement: 3, material: 'steel-bar', lot: `lot-${seq % 100}`, quantity: 1 + reading(rnd, 1), unit: 'kg', workOrder: 'wo-1001', tsMs }] }
  }
}

/** What the service's pipeline makes of `protoBody(kind, ...)`: the input of its `toLines`. */
export function domainRecord(kind: Kind, samples: number, seq: number, tsMs: number, rnd: () => number): DecodedMessage {
  const header = { seq: seq >>> 0, sentTsMs: Date.now() }
  switch (kind) {
    case 'telemetry': {
      const items = new Array<{ signal: string; value: number; unit: string; tsMs: number; quality: 'good' }>(samples)
      for (let k = 0; k < samples; k++) items[k] = { signal: signal(k), value: sampleValue(rnd), unit: '', tsMs, quality: 'good' }
      return { kind, ...header, samples: items }
    }
    case 'state': {
      const states = ['running', 'idle', 'setup', 'planned_stop', 'unplanned_stop', 'fault'] as const
      return { kind, ...header, changes: [{ state: states[seq % 6]!, reasonCode: seq % 6 === 4 ? 'no-material' : '', alarmCodes: [], tsMs }] }
    }
    case 'production':
      return { kind, ...header, reports: [{ mode: 'delta', good: 1 + (seq % 3), reject: seq % 17 === 0 ? 1 : 0, cycleTimeS: 6 + reading(rnd, 1), workOrder: 'wo-1001', product: 'p-17', tsMs }] }
    case 'quality': {
      const value = 50 + reading(rnd, 1)
      return { kind, ...header, inspections: [{ characteristic: 'c0', value, lsl: 49.5, usl: 50.5, target: 50, unit: 'mm', pass: value <= 50.5, defectCode: '', lot: 'lot-42', tsMs }] }
    }
    case 'connectivity':
      return { kind, ...header, reports: [{ access: '5g-sa', rsrpDbm: -80 - reading(rnd, 20), rsrqDb: -10, sinrDb: 15 + reading(rnd, 5), rttMs: 8 + reading(rnd, 10), uplinkMbps: 50, downlinkMbps: 200, cellId: 'cell-7', tsMs }] }
    case 'material':
      return { kind, ...header, movements: [{ movement: 'consumed', material: 'steel-bar', lot: `lot-${seq % 100}`, quantity: 1 + reading(rnd, 1), unit: 'kg', workOrder: 'wo-1001', tsMs }] }
  }
}

/**
 * Where each kind's points land, for the loss check: measurement, a field
 * every point has, an extra condition, and the tags that name the series
 * holding message identities.
 */
export const STORED_AS: Readonly<Record<Kind, { measurement: string; field: string; where: string; groupBy: readonly string[] }>> = {
  telemetry: { measurement: 'telemetry', field: 'value', where: `"signal" = 's0'`, groupBy: ['zone', 'factory', 'line', 'machine'] },
  state: { measurement: 'state', field: 'state', where: '', groupBy: ['zone', 'factory', 'line', 'machine'] },
  production: { measurement: 'production', field: 'good', where: '', groupBy: ['zone', 'factory', 'line', 'machine'] },
  quality: { measurement: 'quality', field: 'value', where: `"characteristic" = 'c0'`, groupBy: ['zone', 'factory', 'line', 'machine'] },
  connectivity: { measurement: 'connectivity', field: 'rtt_ms', where: '', groupBy: ['zone', 'factory', 'gateway'] },
  material: { measurement: 'material', field: 'quantity', where: '', groupBy: ['zone', 'factory', 'line', 'machine'] },
}
