import { describe, expect, it } from 'vitest'
import { MachineStateJson, machineStateView, ScopeStateAnswers, stateAnswer } from '../../src/api/state-json.js'
import { LiveStateTable } from '../../src/domain/live-state.js'
import type { MachineState } from '../../src/domain/records.js'

const SEEDED_ALARMS = ['S1']

describe('equipment/state JSON, cached per machine', () => {
  it('always equals the state built afresh, through seeds, reports, repeated reports, alarms and going offline', () => {
    const live = new LiveStateTable()
    const cache = new MachineStateJson()
    const machines = Array.from({ length: 6 }, (_, i) => ({ zone: 'z', factory: 'f', line: 'l', machine: `m${i}`, idealCycleTimeS: 1 }))
    const states: MachineState[] = ['running', 'idle', 'fault', 'setup']
    let seed = 7
    const rand = (n: number) => (seed = (seed * 1103515245 + 12345) % 2 ** 31) % n
    let now = 1_700_000_000_000
    let rebuilt = 0
    for (let step = 0; step < 2000; step++) {
      const m = machines[rand(machines.length)]!
      const key = `z/f/l/${m.machine}`
      now += rand(3) * 1000
      switch (rand(5)) {
        case 0:
          live.seen(key, now)
          break
        case 1:
        case 2:
          live.applyState(key, { state: states[rand(states.length)]!, reasonCode: rand(2) ? '' : `R${rand(3)}`, alarmCodes: rand(3) ? [] : [`A${rand(4)}`], tsMs: now - rand(5) * 1000 })
          break
        case 3:
          // The same alarms array each time: only "since" tells this seed from the last one.
          live.seed(key, { stateTsMs: now - 20_000, state: 'idle', reason: 'seeded', alarms: SEEDED_ALARMS, sinceMs: now - 30_000 - rand(100) * 1000 })
          break
        default:
          break // nothing changes: the cached JSON is served
      }
      for (const x of machines) {
        const k = `z/f/l/${x.machine}`
        const e = live.get(k)
        const online = e?.lastSeenMs !== undefined && now - e.lastSeenMs <= 5000
        const before = cache.of(k, x, e, online)
        const fresh = machineStateView(x, e, online)
        expect(before.json).toBe(JSON.stringify(fresh))
        expect(before.bytes.toString('utf8')).toBe(before.json)
        expect(before.shown).toBe(fresh.state)
        if (cache.of(k, x, e, online) !== before) rebuilt++
      }
    }
    // Asked twice with nothing changed in between, the second answer is the cached one.
    expect(rebuilt).toBe(0)
  })
})

describe('a scope\'s equipment/state answer, joined from each machine\'s bytes', () => {
  it('is the JSON of the answer object, for no machine, one, and several with non-ASCII names', () => {
    const at = Date.UTC(2026, 11, 3, 8, 30)
    const views = [
      { machine: 'm1', state: 'running', reason: null },
      { machine: 'presse-ü', state: 'fault', reason: 'Störung 🔧' },
      { machine: 'm3', state: 'offline', reason: null },
    ]
    for (const n of [0, 1, 3]) {
      const some = views.slice(0, n)
      const byState: Record<string, number> = {}
      for (const v of some) byState[v.state] = (byState[v.state] ?? 0) + 1
      const body = stateAnswer(at, byState, some.map((v) => Buffer.from(JSON.stringify(v))))
      expect(JSON.parse(body.toString('utf8'))).toEqual({ at: new Date(at).toISOString(), count: n, byState, machines: some })
      expect(body.toString('utf8')).toBe(JSON.stringify({ at: new Date(at).toISOString(), count: n, byState, machines: some }))
    }
  })
})

describe('a scope\'s whole equipment/state answer, cached for at most maxAgeMs', () => {
  const machines = [{ m: { zone: 'z', factory: 'f', line: 'l', machine: 'm1', idealCycleTimeS: 1 }, key: 'z/f/l/m1' }]
  it('is built again once it is maxAgeMs old, when the registry changes, and when the clock goes back', () => {
    const answers = new ScopeStateAnswers(50)
    let builds = 0
    let lists = 0
    const list = () => (lists++, machines)
    const build = (ms: readonly unknown[], now: number) => Buffer.from(`{"at":${now},"n":${ms.length},"build":${++builds}}`)
    const registry = {}
    const first = answers.body(registry, 'z///', 1000, list, build)
    expect(first.toString()).toBe('{"at":1000,"n":1,"build":1}')
    // Within 50 ms: the same Buffer, not built again.
    expect(answers.body(registry, 'z///', 1049, list, build)).toBe(first)
    // Another scope has its own answer.
    expect(answers.body(registry, 'z/f//', 1049, list, build).toString()).toBe('{"at":1049,"n":1,"build":2}')
    // 50 ms old: built again, from the machines listed once for this registry.
    expect(answers.body(registry, 'z///', 1050, list, build).toString()).toBe('{"at":1050,"n":1,"build":3}')
    expect(lists).toBe(2)
    // A clock stepped back does not make an answer from its future last forever.
    expect(answers.body(registry, 'z///', 900, list, build).toString()).toBe('{"at":900,"n":1,"build":4}')
    // A reloaded registry: the machines are listed again and the answer built afresh at once.
    expect(answers.body({}, 'z///', 901, list, build).toString()).toBe('{"at":901,"n":1,"build":5}')
    expect(lists).toBe(3)
  })
})
