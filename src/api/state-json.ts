import type { MachineLive } from '../domain/live-state.js'
import type { MachineInScope } from './scope.js'

/** One machine's current state as the API shows it (`equipment/state`, `equipment/alarms`, docs/api.md). */
export interface MachineStateView {
  zone: string
  factory: string
  line: string
  machine: string
  state: string
  reportedState: string | null
  reason: string | null
  alarms: string[]
  since: string | null
  lastSeen: string | null
  online: boolean
}

const iso = (ms: number | undefined) => (ms === undefined ? null : new Date(ms).toISOString())

export function machineStateView(m: MachineInScope, e: Readonly<MachineLive> | undefined, online: boolean): MachineStateView {
  return {
    zone: m.zone,
    factory: m.factory,
    line: m.line,
    machine: m.machine,
    state: !online ? 'offline' : (e?.state ?? 'unknown'),
    reportedState: e?.state ?? null,
    // The live table keeps '' for no reason code, as decoded; the API says absent with null (docs/api.md).
    reason: e?.reason || null,
    alarms: [...(e?.alarms ?? [])],
    since: iso(e?.sinceMs),
    lastSeen: iso(e?.lastSeenMs),
    online,
  }
}

interface Cached {
  readonly lastSeenMs: number | undefined
  readonly state: string | undefined
  readonly reason: string | undefined
  readonly alarms: readonly string[] | undefined
  readonly sinceMs: number | undefined
  readonly online: boolean
  readonly shown: string
  readonly json: string
}

/**
 * Each machine's state as JSON, built again only when something it shows changed: a request for
 * every machine of a park is then a join of strings, not thousands of objects, dates and a
 * serialization (the API bench's `currentState`, bench/README.md).
 */
export class MachineStateJson {
  private readonly cache = new Map<string, Cached>()

  /** `key` is the machine's key in the live table; `e` its entry there. */
  of(key: string, m: MachineInScope, e: Readonly<MachineLive> | undefined, online: boolean): { readonly json: string; readonly shown: string } {
    const c = this.cache.get(key)
    if (c && c.online === online && c.lastSeenMs === e?.lastSeenMs && c.state === e?.state && c.reason === e?.reason && c.alarms === e?.alarms && c.sinceMs === e?.sinceMs) return c
    const view = machineStateView(m, e, online)
    const fresh: Cached = { lastSeenMs: e?.lastSeenMs, state: e?.state, reason: e?.reason, alarms: e?.alarms, sinceMs: e?.sinceMs, online, shown: view.state, json: JSON.stringify(view) }
    // Machines leave the registry now and then: start over rather than keep them forever.
    if (!c && this.cache.size >= 200_000) this.cache.clear()
    this.cache.set(key, fresh)
    return fresh
  }
}
