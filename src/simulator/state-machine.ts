import { MACHINE_STATE, type MachineStateCode } from './messages.js'
import type { Prng } from './prng.js'

export interface StateEntry {
  readonly state: MachineStateCode
  readonly reasonCode: string
  readonly alarmCodes: readonly string[]
  /** How long the machine stays, ms. */
  readonly durationMs: number
}

const S = 1000
const MIN = 60 * S

// Reason codes a shop-floor MES would use; faults carry the controller alarms active.
const UNPLANNED_REASONS = ['no-material', 'jam', 'operator-absent', 'chip-clearing', 'waiting-for-quality'] as const
const FAULTS: readonly { reason: string; alarms: readonly string[] }[] = [
  { reason: 'tool-wear', alarms: ['ALM-2011'] },
  { reason: 'spindle-overheat', alarms: ['ALM-1021', 'ALM-1022'] },
  { reason: 'servo-alarm', alarms: ['ALM-4104'] },
  { reason: 'coolant-low', alarms: ['ALM-3007'] },
  { reason: 'air-pressure-low', alarms: ['ALM-3050'] },
]

/** Minimum plus an exponential tail: most stops are short, a few are long. */
function duration(prng: Prng, minMs: number, meanExtraMs: number, maxMs: number): number {
  return Math.round(Math.min(maxMs, minMs + prng.exponential(meanExtraMs)))
}

export function running(prng: Prng): StateEntry {
  return { state: MACHINE_STATE.running, reasonCode: '', alarmCodes: [], durationMs: duration(prng, 30 * S, 12 * MIN, 90 * MIN) }
}

/** A setup (changeover or tool change) is where work orders and tools change. */
export function setup(prng: Prng, reasonCode: 'changeover' | 'tool-change'): StateEntry {
  const base = reasonCode === 'tool-change' ? 90 * S : 3 * MIN
  return { state: MACHINE_STATE.setup, reasonCode, alarmCodes: [], durationMs: duration(prng, base, 2 * MIN, 20 * MIN) }
}

/** Where a machine starts: mostly running, a few waiting, so a fresh fleet already looks varied. */
export function initialState(prng: Prng): StateEntry {
  const r = prng.next()
  if (r < 0.08) return { state: MACHINE_STATE.idle, reasonCode: 'no-order', alarmCodes: [], durationMs: duration(prng, 10 * S, 40 * S, 5 * MIN) }
  if (r < 0.12) return setup(prng, 'changeover')
  return running(prng)
}

/**
 * The state after `current` ends. Every stop returns to running; running can
 * end in any stop. Odds and durations give roughly 75-85 % running time, a
 * typical availability for a machining line.
 */
export function nextState(prng: Prng, current: MachineStateCode): StateEntry {
  if (current !== MACHINE_STATE.running) return running(prng)
  const r = prng.next()
  if (r < 0.15) return { state: MACHINE_STATE.idle, reasonCode: prng.pick(['no-order', 'waiting-for-operator']), alarmCodes: [], durationMs: duration(prng, 10 * S, 40 * S, 5 * MIN) }
  if (r < 0.25) return setup(prng, 'changeover')
  if (r < 0.33) return { state: MACHINE_STATE.plannedStop, reasonCode: prng.pick(['break', 'meeting', 'cleaning']), alarmCodes: [], durationMs: duration(prng, 5 * MIN, 5 * MIN, 30 * MIN) }
  if (r < 0.85) return { state: MACHINE_STATE.unplannedStop, reasonCode: prng.pick(UNPLANNED_REASONS), alarmCodes: [], durationMs: duration(prng, 20 * S, 90 * S, 15 * MIN) }
  return fault(prng)
}

export function fault(prng: Prng, reason?: string): StateEntry {
  const f = FAULTS.find((x) => x.reason === reason) ?? prng.pick(FAULTS)
  return { state: MACHINE_STATE.fault, reasonCode: f.reason, alarmCodes: [...f.alarms], durationMs: duration(prng, 60 * S, 3 * MIN, 45 * MIN) }
}
