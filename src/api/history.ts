import { buildTimeline, type StateInterval } from '../domain/state-timeline.js'
import type { MachineState } from '../domain/records.js'
import { machineKey } from '../domain/machine-key.js'
import type { Scope } from '../storage/ports.js'
import type { ApiDeps } from './api-deps.js'
import type { MachineInScope } from './scope.js'

/**
 * State timelines of machines over a window, from stored state reports plus
 * the report in force at the window's start (its `since` gives when that
 * state really began). The window end is clamped to now.
 */
export async function timelines(deps: ApiDeps, scope: Scope, machines: readonly MachineInScope[], startMs: number, endMs: number): Promise<Map<string, StateInterval[]>> {
  const end = Math.min(endMs, Date.now())
  const history = await deps.manufacturing.stateHistory(scope, startMs, end, deps.config.stateLookbackMs)
  const out = new Map<string, StateInterval[]>()
  for (const m of machines) {
    const key = machineKey(m.zone, m.factory, m.line, m.machine)
    const h = history.get(key)
    const b = h?.before
    const prior = b ? { state: b.state as MachineState, reason: b.reason, tsMs: b.sinceMs ?? b.tsMs, alarms: b.alarms } : undefined
    const points = (h?.points ?? []).map((p) => ({ tsMs: p.tsMs, state: p.state as MachineState, reason: p.reason, alarms: p.alarms }))
    out.set(key, buildTimeline(prior, points, { startMs, endMs: Math.max(startMs, end) }))
  }
  return out
}

export const isoOf = (ms: number) => new Date(ms).toISOString()
export const seconds = (ms: number) => Math.round(ms) / 1000
