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

/** A machine's JSON as UTF-8, encoded once per change (answers are joined from these), and what it was built from. */
class Cached {
  constructor(
    readonly lastSeenMs: number | undefined,
    readonly state: string | undefined,
    readonly reason: string | undefined,
    readonly alarms: readonly string[] | undefined,
    readonly sinceMs: number | undefined,
    readonly online: boolean,
    readonly shown: string,
    readonly bytes: Buffer,
  ) {}

  get json(): string {
    return this.bytes.toString('utf8')
  }
}

/**
 * Each machine's state as JSON, built again only when something it shows changed: a request for
 * every machine of a park is then a join of strings, not thousands of objects, dates and a
 * serialization (the API bench's `currentState`, bench/README.md).
 */
export class MachineStateJson {
  private readonly cache = new Map<string, Cached>()

  /** `key` is the machine's key in the live table; `e` its entry there. */
  of(key: string, m: MachineInScope, e: Readonly<MachineLive> | undefined, online: boolean): { readonly json: string; readonly bytes: Buffer; readonly shown: string } {
    const c = this.cache.get(key)
    if (c && c.online === online && c.lastSeenMs === e?.lastSeenMs && c.state === e?.state && c.reason === e?.reason && c.alarms === e?.alarms && c.sinceMs === e?.sinceMs) return c
    const view = machineStateView(m, e, online)
    const fresh = new Cached(e?.lastSeenMs, e?.state, e?.reason, e?.alarms, e?.sinceMs, online, view.state, Buffer.from(JSON.stringify(view)))
    // Machines leave the registry now and then: start over rather than keep them forever.
    if (!c && this.cache.size >= 200_000) this.cache.clear()
    this.cache.set(key, fresh)
    return fresh
  }
}

/**
 * A scope's `equipment/state` answer, `{"at","count","byState","machines":[…]}`, copied together
 * from each machine's JSON bytes into one Buffer: no string of the whole answer to join and then
 * encode again (a thousand machines make about 200 KB, built every 50 ms under load).
 */
export function stateAnswer(nowMs: number, byState: Readonly<Record<string, number>>, machines: readonly Uint8Array[]): Buffer {
  const head = Buffer.from(`{"at":"${new Date(nowMs).toISOString()}","count":${machines.length},"byState":${JSON.stringify(byState)},"machines":[`)
  let size = head.length + Math.max(0, machines.length - 1) + 2
  for (const b of machines) size += b.length
  const out = Buffer.allocUnsafe(size)
  out.set(head, 0)
  let p = head.length
  for (let i = 0; i < machines.length; i++) {
    if (i > 0) out[p++] = 0x2c
    out.set(machines[i]!, p)
    p += machines[i]!.length
  }
  out[p++] = 0x5d
  out[p] = 0x7d
  return out
}

/** How old a scope's `equipment/state` answer may be when it is served again (docs/api.md, "Machine state"). */
export const STATE_ANSWER_MAX_AGE_MS = 50

/** A machine of a scope with its key in the live table, computed once per registry. */
export interface KeyedMachine {
  readonly m: MachineInScope
  readonly key: string
}

interface ScopeAnswer {
  readonly registry: object
  readonly machines: readonly KeyedMachine[]
  builtAtMs: number
  body: Buffer | undefined
}

/**
 * Each scope's whole `equipment/state` answer as one Buffer, built again only when it is
 * `maxAgeMs` old (or the registry changed): under load a request writes a ready Buffer instead
 * of joining, measuring and encoding a string of every machine (bench/README.md, `api`). The
 * answer's `at` is when it was built, so a client sees how old it is.
 */
export class ScopeStateAnswers {
  private readonly answers = new Map<string, ScopeAnswer>()

  constructor(private readonly maxAgeMs: number) {}

  /**
   * The answer for `scopeKey` at `nowMs`: the cached one while it is younger than `maxAgeMs`, else
   * `build(machines, nowMs)` (the scope's machines from `list`, called once per registry).
   */
  body(registry: object, scopeKey: string, nowMs: number, list: () => readonly KeyedMachine[], build: (machines: readonly KeyedMachine[], nowMs: number) => Buffer): Buffer {
    let a = this.answers.get(scopeKey)
    if (a && a.registry === registry && a.body && nowMs >= a.builtAtMs && nowMs - a.builtAtMs < this.maxAgeMs) return a.body
    if (!a || a.registry !== registry) {
      // Scopes are few (a key's own, its factories and lines); never let odd ones pile up.
      if (!a && this.answers.size >= 10_000) this.answers.clear()
      a = { registry, machines: list(), builtAtMs: nowMs, body: undefined }
      this.answers.set(scopeKey, a)
    }
    a.body = build(a.machines, nowMs)
    a.builtAtMs = nowMs
    return a.body
  }
}
