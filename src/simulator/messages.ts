import type { Kind } from '../domain/topic.js'

// Plain objects shaped like the protobufjs messages (camelCase, enums as numbers),
// so `Type.fromObject` takes them as they are. Numbers mirror proto/iiot/v1/*.proto.

export const MACHINE_STATE = { running: 1, idle: 2, setup: 3, plannedStop: 4, unplannedStop: 5, fault: 6, offline: 7 } as const
export type MachineStateCode = (typeof MACHINE_STATE)[keyof typeof MACHINE_STATE]

export const QUALITY = { good: 1, uncertain: 2, bad: 3 } as const
export const COUNT_MODE_DELTA = 1
export const VERDICT_UNSPECIFIED = 0
export const RADIO_ACCESS = { nrSa: 1, nrNsa: 2, lte: 3 } as const

export interface SampleMsg {
  signal: string
  doubleValue?: number
  intValue?: number
  boolValue?: boolean
  stringValue?: string
  unit: string
  tsMs: number
  quality: number
}

export interface StateChangeMsg {
  state: MachineStateCode
  reasonCode: string
  alarmCodes: string[]
  tsMs: number
}

export interface ProductionReportMsg {
  mode: number
  good: number
  reject: number
  cycleTimeS: number
  workOrder: string
  product: string
  tsMs: number
}

export interface InspectionMsg {
  characteristic: string
  value: number
  lsl?: number
  usl?: number
  target?: number
  unit: string
  verdict: number
  defectCode: string
  lot: string
  tsMs: number
}

export interface LinkReportMsg {
  access: number
  rsrpDbm: number
  rsrqDb: number
  sinrDb: number
  rttMs: number
  uplinkMbps: number
  downlinkMbps: number
  cellId: string
  tsMs: number
}

export interface MovementMsg {
  movement: number
  material: string
  lot: string
  quantity: number
  unit: string
  workOrder: string
  tsMs: number
}

/** The items of one message; the gateway client adds the `seq` / `sentTsMs` header. */
export type MessageBody =
  | { kind: 'telemetry'; samples: SampleMsg[] }
  | { kind: 'state'; changes: StateChangeMsg[] }
  | { kind: 'production'; reports: ProductionReportMsg[] }
  | { kind: 'quality'; inspections: InspectionMsg[] }
  | { kind: 'connectivity'; reports: LinkReportMsg[] }
  | { kind: 'material'; movements: MovementMsg[] }

export type BodyOf<K extends Kind> = Extract<MessageBody, { kind: K }>
