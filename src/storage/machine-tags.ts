import type { Scope } from './ports.js'

/** A machine's tags, as the in-memory indexes key their columns by. */
export interface MachineTags {
  readonly zone: string
  readonly factory: string
  readonly line: string
  readonly machine: string
}

/** Whether a machine lies in a read's scope (the readers' semantics, storage/ports.ts). */
export const inScope = (m: MachineTags, s: Scope) =>
  (s.zone === undefined || m.zone === s.zone) && (s.factory === undefined || m.factory === s.factory) && (s.line === undefined || m.line === s.line) && (s.machine === undefined || m.machine === s.machine)
