import type { IngestLimits } from '../config/config.js'
import type { MachineLive } from '../domain/live-state.js'
import type { MachineState } from '../domain/records.js'

/** What the main thread and a decode worker say to each other (decode-pool.ts, decode-worker.ts). */

export interface DecodeWorkerInit {
  readonly index: number
  readonly ingest: IngestLimits
  readonly maxPayloadBytes: number
  readonly fastPath: boolean
  readonly logLevel: string
  /** The main thread's live table when the worker starts: "since" of a repeated state depends on it. */
  readonly liveSeed: readonly (readonly [string, Partial<MachineLive>])[]
  readonly registryFile: unknown
}

/** The journal records of one batch that hold message frames, packed in one buffer. */
export interface DecodeJob {
  readonly type: 'job'
  readonly id: number
  readonly bytes: Uint8Array
  /** [start, end) of each record's frames in `bytes`, in journal order. */
  readonly records: readonly (readonly [number, number])[]
  /** How many workers share the gateways: each decodes only its own (`gatewayPartition`). */
  readonly workers: number
}

export type DecodeWorkerMessage = DecodeJob | { readonly type: 'registry'; readonly file: unknown }

/** A state report a worker applied to its live table, for the main thread's table to apply in the same order. */
export type StateOp = [key: string, state: MachineState, reasonCode: string, alarmCodes: string[], tsMs: number]

/** What one worker made of its share of a job. */
export interface PartResult {
  readonly id: number
  /** The accepted messages' lines as UTF-8, joined by "\n" (a Uint8Array once it crossed from a worker). */
  readonly body: Uint8Array
  /** Triples (record index, frame index, line count) of the accepted messages, in journal order. */
  readonly accepted: readonly number[]
  readonly acceptedByKind: Readonly<Record<string, number>>
  readonly rejected: readonly { readonly record: number; readonly frame: number; readonly reason: string; readonly message: string; readonly zone: string | undefined; readonly factory: string | undefined }[]
  /** The newest receive time of each machine seen. */
  readonly seen: readonly (readonly [string, number])[]
  readonly states: readonly StateOp[]
  readonly received: Readonly<Record<string, number>>
  readonly divergences: number
}

/**
 * Which of `workers` decodes a gateway's messages: always the same one, so what must stay in
 * order per gateway (counters, live state) is kept by one thread. FNV-1a of the id.
 */
export function gatewayPartition(gatewayId: string, workers: number): number {
  let h = 0x811c9dc5
  for (let i = 0; i < gatewayId.length; i++) {
    h ^= gatewayId.charCodeAt(i)
    h = Math.imul(h, 0x01000193)
  }
  return (h >>> 0) % workers
}
