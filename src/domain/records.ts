/**
 * Decoded, validated messages: what the pipeline produces from a payload
 * after protobuf decoding and semantic checks. Timestamps are Unix epoch ms.
 */
export const SIGNAL_QUALITIES = ['good', 'uncertain', 'bad'] as const
export type SignalQuality = (typeof SIGNAL_QUALITIES)[number]

export const MACHINE_STATES = ['running', 'idle', 'setup', 'planned_stop', 'unplanned_stop', 'fault', 'offline'] as const
export type MachineState = (typeof MACHINE_STATES)[number]

export const RADIO_ACCESSES = ['5g-sa', '5g-nsa', 'lte', 'wifi', 'ethernet', 'fibre'] as const
export type RadioAccess = (typeof RADIO_ACCESSES)[number]

export type SampleValue = number | boolean | string

export interface Sample {
  readonly signal: string
  readonly value: SampleValue
  readonly unit: string
  readonly tsMs: number
  readonly quality: SignalQuality
}

export interface StateChange {
  readonly state: MachineState
  readonly reasonCode: string
  readonly alarmCodes: readonly string[]
  readonly tsMs: number
}

export interface ProductionReport {
  readonly mode: 'delta' | 'counter'
  readonly good: number
  readonly reject: number
  readonly cycleTimeS: number | undefined
  readonly workOrder: string
  readonly product: string
  readonly tsMs: number
}

export interface Inspection {
  readonly characteristic: string
  readonly value: number
  readonly lsl: number | undefined
  readonly usl: number | undefined
  readonly target: number | undefined
  readonly unit: string
  readonly pass: boolean | undefined
  readonly defectCode: string
  readonly lot: string
  readonly tsMs: number
}

export interface LinkReport {
  readonly access: RadioAccess
  readonly rsrpDbm: number | undefined
  readonly rsrqDb: number | undefined
  readonly sinrDb: number | undefined
  readonly rttMs: number | undefined
  readonly uplinkMbps: number | undefined
  readonly downlinkMbps: number | undefined
  readonly cellId: string
  readonly tsMs: number
}

/** Material movements at a machine (docs/materials.md). */
export const MOVEMENTS = ['received', 'loaded', 'consumed', 'produced', 'scrapped', 'unloaded'] as const
export type MovementKind = (typeof MOVEMENTS)[number]

/** Units a movement may carry; quantities are compared per unit, never converted. */
export const MATERIAL_UNITS = ['pcs', 'kg', 'g', 't', 'm', 'mm', 'm2', 'l', 'ml'] as const
export type MaterialUnit = (typeof MATERIAL_UNITS)[number]

/** A warning that does not reject the movement: counted and stored with it. */
export type MaterialWarning = 'consumed_before_loaded'

export interface MaterialMovement {
  readonly movement: MovementKind
  readonly material: string
  readonly lot: string
  readonly quantity: number
  readonly unit: MaterialUnit
  readonly workOrder: string
  readonly tsMs: number
}

interface Header {
  readonly seq: number
  readonly sentTsMs: number
}

export type DecodedMessage =
  | (Header & { readonly kind: 'telemetry'; readonly samples: readonly Sample[] })
  | (Header & { readonly kind: 'state'; readonly changes: readonly StateChange[] })
  | (Header & { readonly kind: 'production'; readonly reports: readonly ProductionReport[] })
  | (Header & { readonly kind: 'quality'; readonly inspections: readonly Inspection[] })
  | (Header & { readonly kind: 'connectivity'; readonly reports: readonly LinkReport[] })
  | (Header & { readonly kind: 'material'; readonly movements: readonly MaterialMovement[] })
