import { describe, expect, it } from 'vitest'
import { NAME_PATTERN } from '../../src/domain/ids.js'
import { messageTypes } from '../../src/pipeline/proto-schema.js'
import { createValidator } from '../../src/pipeline/validate.js'
import { createSequencer, encodeMessage } from '../../src/simulator/codec.js'
import { parseCredentials, planFleet } from '../../src/simulator/credentials.js'
import { BORE, inspectPart } from '../../src/simulator/inspection.js'
import { accessForFactory, createLinkModel } from '../../src/simulator/link-model.js'
import { createMachineModel, STATE_REPUBLISH_MS, type MachineEvents, type MachineModel } from '../../src/simulator/machine-model.js'
import { MACHINE_STATE, RADIO_ACCESS, type MessageBody } from '../../src/simulator/messages.js'
import { createPrng, deriveSeed } from '../../src/simulator/prng.js'

const T0 = Date.UTC(2026, 0, 5, 6, 0, 0)
const HOUR = 3_600_000
const SPEC = { line: 'line-1', machine: 'm-1', idealCycleTimeS: 12 }
const types = messageTypes()
const limits = { maxFutureSkewMs: 300_000, maxAgeMs: 30 * 86_400_000, maxBatch: 10_000, maxStringLength: 256 }

/** Steps a model once a second (as the runner does) and keeps every event with the step time. */
function run(model: MachineModel, fromMs: number, toMs: number): { at: number; ev: MachineEvents }[] {
  const out: { at: number; ev: MachineEvents }[] = []
  for (let t = fromMs; t <= toMs; t += 1000) out.push({ at: t, ev: model.step(t) })
  return out
}

/** Encodes as the gateway would, decodes as the broker does, and runs the server's validation. */
let simNow = T0
const validate = createValidator(limits, () => simNow)
function roundTrip(body: MessageBody, sentTsMs: number) {
  const decoded = types[body.kind].decode(encodeMessage(types, body, 7, sentTsMs))
  simNow = sentTsMs
  return { decoded, result: validate(body.kind, decoded) }
}

describe('prng', () => {
  it('repeats its sequence for a seed and differs between seeds', () => {
    const draw = (seed: number) => Array.from({ length: 5 }, createPrng(seed).next)
    const a = createPrng(42)
    const seqA = [a.next(), a.next(), a.next()]
    const b = createPrng(42)
    expect([b.next(), b.next(), b.next()]).toEqual(seqA)
    expect(draw(1)).not.toEqual(draw(2))
  })

  it('keeps ints and ranges within bounds', () => {
    const p = createPrng(7)
    for (let i = 0; i < 2000; i++) {
      const n = p.int(3, 5)
      expect(Number.isInteger(n) && n >= 3 && n <= 5).toBe(true)
      const r = p.range(-2, 2)
      expect(r >= -2 && r < 2).toBe(true)
    }
  })

  it('derives independent per-name seeds from one run seed', () => {
    expect(deriveSeed(1, 'shtp/f1/line-1/m-1')).toBe(deriveSeed(1, 'shtp/f1/line-1/m-1'))
    expect(deriveSeed(1, 'shtp/f1/line-1/m-1')).not.toBe(deriveSeed(1, 'shtp/f1/line-1/m-2'))
    expect(deriveSeed(1, 'shtp/f1/line-1/m-1')).not.toBe(deriveSeed(2, 'shtp/f1/line-1/m-1'))
  })
})

describe('machine model', () => {
  it('produces identical events and telemetry for the same seed and times, different ones for another seed', () => {
    const trace = (seed: number) => {
      const m = createMachineModel(SPEC, seed, T0)
      const events = run(m, T0, T0 + HOUR)
      return { events, samples: m.telemetry(T0 + HOUR, 10, 1000) }
    }
    expect(trace(5)).toEqual(trace(5))
    expect(trace(5)).not.toEqual(trace(6))
  })

  it('announces its state at once, re-announces it every 60 s, and only uses valid states', () => {
    const m = createMachineModel(SPEC, 3, T0)
    const first = m.step(T0)
    expect(first.state).toHaveLength(1)
    expect(first.state[0]!.tsMs).toBeLessThanOrEqual(T0)
    const events = run(m, T0 + 1000, T0 + 8 * HOUR)
    const changes = events.flatMap((e) => e.ev.state.map((c) => ({ ...c, at: e.at })))
    const valid: readonly number[] = Object.values(MACHINE_STATE)
    for (const c of changes) expect(valid).toContain(c.state)
    // Between two announcements there is never more than a minute of silence.
    for (let i = 1; i < changes.length; i++) expect(changes[i]!.at - changes[i - 1]!.at).toBeLessThanOrEqual(STATE_REPUBLISH_MS)
    const distinct = new Set(changes.map((c) => c.state))
    expect(distinct.has(MACHINE_STATE.running)).toBe(true)
    expect(distinct.size).toBeGreaterThanOrEqual(3)
    for (const c of changes.filter((x) => x.state === MACHINE_STATE.fault)) {
      expect(c.reasonCode).not.toBe('')
      expect(c.alarmCodes.length).toBeGreaterThan(0)
    }
  })

  it.each([11, 4])('counts parts in delta mode, a little slower than the ideal cycle, with about 2 percent rejects (seed %i)', (seed) => {
    const m = createMachineModel(SPEC, seed, T0)
    const events = run(m, T0, T0 + 24 * HOUR)
    // Running time from the state timeline (announcements repeat; transitions are where the tsMs changes).
    let runningMs = 0
    let current: { state: number; since: number } | undefined
    for (const c of events.flatMap((e) => e.ev.state)) {
      if (current && c.tsMs === current.since) continue
      if (current?.state === MACHINE_STATE.running) runningMs += c.tsMs - current.since
      current = { state: c.state, since: c.tsMs }
    }
    const reports = events.flatMap((e) => e.ev.production)
    expect(reports.length).toBeGreaterThan(100)
    let good = 0
    let reject = 0
    for (const r of reports) {
      expect(r.mode).toBe(1)
      expect(Number.isInteger(r.good) && r.good >= 0 && Number.isInteger(r.reject) && r.reject >= 0).toBe(true)
      expect(r.cycleTimeS).toBeGreaterThanOrEqual(SPEC.idealCycleTimeS)
      expect(r.cycleTimeS).toBeLessThan(SPEC.idealCycleTimeS * 1.4)
      expect(r.workOrder).toMatch(/^WO-2026-\d{4}$/)
      good += r.good
      reject += r.reject
    }
    const parts = good + reject
    const ideal = runningMs / (SPEC.idealCycleTimeS * 1000)
    expect(parts).toBeLessThanOrEqual(ideal + 2)
    expect(parts).toBeGreaterThan(ideal * 0.8)
    expect(reject / parts).toBeGreaterThan(0.005)
    expect(reject / parts).toBeLessThan(0.05)
    expect(new Set(reports.map((r) => r.workOrder)).size).toBeGreaterThan(1)
    // Reports account for every part except those of the report still pending.
    const snap = m.snapshot()
    expect(snap.good + snap.reject - parts).toBeGreaterThanOrEqual(0)
    expect(snap.good + snap.reject - parts).toBeLessThan(5)
  })

  it.each([2, 3, 5, 8])('lets the bore diameter drift towards the upper limit until a tool change resets it (seed %i)', (seed) => {
    const m = createMachineModel(SPEC, seed, T0)
    // Bore values grouped by tool: a new group starts at each (first announcement of a) tool change.
    const tools: number[][] = [[]]
    let lastChangeTs = -1
    for (const { ev } of run(m, T0, T0 + 24 * HOUR)) {
      const change = ev.state.find((c) => (c.reasonCode === 'tool-change' || c.reasonCode === 'tool-wear') && c.tsMs !== lastChangeTs)
      if (change) {
        lastChangeTs = change.tsMs
        tools.push([])
      }
      for (const i of ev.quality) if (i.characteristic === BORE.characteristic) tools[tools.length - 1]!.push(i.value)
    }
    const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length
    const fresh = tools.slice(1).filter((t) => t.length >= 40) // whole tool lives, long enough to see a trend
    expect(fresh.length).toBeGreaterThan(1)
    for (const t of fresh) {
      expect(mean(t.slice(0, 10))).toBeLessThan(BORE.target + 0.015)
      expect(mean(t.slice(-10)) - mean(t.slice(0, 10))).toBeGreaterThan(0.01)
    }
    // Tools changed for wear were used until close to the upper limit.
    expect(Math.max(...fresh.map((t) => mean(t.slice(-10))))).toBeGreaterThan(BORE.target + 0.03)
  })

  it('marks out-of-spec parts with a defect code and leaves the verdict to the server', () => {
    const p = createPrng(9)
    const worn = Array.from({ length: 200 }, () => inspectPart(p, 0.01, 1, 'L1', T0)[0]!)
    const oversize = worn.filter((i) => i.value > BORE.usl)
    expect(oversize.length).toBeGreaterThan(0)
    for (const i of worn) {
      expect(i.verdict).toBe(0)
      expect(i.defectCode).toBe(i.value > BORE.usl ? 'oversize' : '')
    }
  })

  it('samples every signal with the right value type, evenly spread in time', () => {
    const m = createMachineModel(SPEC, 4, T0)
    m.step(T0)
    const samples = m.telemetry(T0, 14, 1000)
    expect(samples).toHaveLength(14)
    for (let i = 1; i < samples.length; i++) expect(samples[i]!.tsMs).toBeGreaterThan(samples[i - 1]!.tsMs)
    expect(samples.at(-1)!.tsMs).toBe(T0)
    expect(samples[0]!.tsMs).toBeGreaterThan(T0 - 1000)
    const by = new Map(samples.map((s) => [s.signal, s]))
    expect(by.size).toBe(7)
    for (const s of samples) expect(s.signal).toMatch(NAME_PATTERN)
    expect(typeof by.get('door.open')!.boolValue).toBe('boolean')
    expect(by.get('program.name')!.stringValue).toMatch(/^O\d{4}$/)
    expect(Number.isInteger(by.get('parts.total')!.intValue)).toBe(true)
    const temp = by.get('spindle.temperature')!.doubleValue!
    expect(temp).toBeGreaterThan(15)
    expect(temp).toBeLessThan(90)
  })
})

describe('wire format', () => {
  it('encodes every kind so the server decodes and accepts it', () => {
    const m = createMachineModel(SPEC, 8, T0)
    const link = createLinkModel(0, 1)
    const bodies: { body: MessageBody; at: number }[] = []
    for (const { at, ev } of run(m, T0, T0 + 4 * HOUR)) {
      if (ev.state.length) bodies.push({ at, body: { kind: 'state', changes: ev.state } })
      if (ev.production.length) bodies.push({ at, body: { kind: 'production', reports: ev.production } })
      if (ev.quality.length) bodies.push({ at, body: { kind: 'quality', inspections: ev.quality } })
      if (at % 60_000 === 0) bodies.push({ at, body: { kind: 'telemetry', samples: m.telemetry(at, 10, 1000) } })
      if (at % 10_000 === 0) bodies.push({ at, body: { kind: 'connectivity', reports: [link.report(at)] } })
    }
    expect(new Set(bodies.map((b) => b.body.kind)).size).toBe(5)
    for (const { body, at } of bodies) {
      const { result } = roundTrip(body, at)
      expect(result.ok ? 'ok' : result.failure.message).toBe('ok')
    }
  })

  it('keeps values, the oneof choice and the header through encoding', () => {
    const m = createMachineModel(SPEC, 8, T0)
    m.step(T0)
    const samples = m.telemetry(T0, 7, 700)
    const { decoded } = roundTrip({ kind: 'telemetry', samples }, T0)
    const obj = types.telemetry.toObject(decoded, { oneofs: true }) as { seq: number; sentTsMs: number; samples: Record<string, unknown>[] }
    expect(obj.seq).toBe(7)
    expect(obj.sentTsMs).toBe(T0)
    for (const [i, s] of samples.entries()) {
      const d = obj.samples[i]!
      const field = (['doubleValue', 'intValue', 'boolValue', 'stringValue'] as const).find((f) => s[f] !== undefined)!
      expect(d.value).toBe(field)
      expect(d[field]).toEqual(s[field])
      expect(d.tsMs).toBe(s.tsMs)
    }
  })

  it('numbers each topic separately, starting at 1', () => {
    const next = createSequencer()
    expect([next('a'), next('a'), next('b'), next('a')]).toEqual([1, 2, 1, 3])
  })
})

describe('connectivity', () => {
  it('picks the radio access from the factory index and keeps radio figures plausible', () => {
    expect([0, 1, 2, 3].map(accessForFactory)).toEqual([RADIO_ACCESS.nrSa, RADIO_ACCESS.nrNsa, RADIO_ACCESS.lte, RADIO_ACCESS.nrSa])
    const sa = createLinkModel(0, 3)
    const reports = Array.from({ length: 500 }, (_, i) => sa.report(T0 + i * 10_000))
    const saShare = reports.filter((r) => r.access === RADIO_ACCESS.nrSa).length / reports.length
    expect(saShare).toBeGreaterThan(0.9)
    for (const r of reports) {
      expect(r.rsrpDbm).toBeGreaterThanOrEqual(-110)
      expect(r.rsrpDbm).toBeLessThanOrEqual(-80)
      expect(r.rttMs).toBeGreaterThan(0)
      expect(r.downlinkMbps).toBeGreaterThan(r.uplinkMbps)
      expect(r.cellId).toMatch(/^452-04-\d{6}-[1-3]$/)
    }
    const lte = createLinkModel(2, 3).report(T0)
    expect(lte.access).toBe(RADIO_ACCESS.lte)
  })
})

describe('credentials', () => {
  const file = {
    mqttUrl: 'mqtt://127.0.0.1:1883',
    gateways: [
      { id: 'gw-a', secret: 's1', zone: 'z', factory: 'f1', lines: [{ id: 'l1', machines: [{ id: 'm1', idealCycleTimeS: 10 }, { id: 'm2', idealCycleTimeS: 20 }] }] },
      { id: 'gw-b', secret: 's2', zone: 'z', factory: 'f2', lines: [{ id: 'l1', machines: [{ id: 'm3', idealCycleTimeS: 30 }] }] },
      { id: 'gw-c', secret: 's3', zone: 'z', factory: 'f1', lines: [] },
    ],
  }

  it('plans gateways with factory indexes and honours --max-machines', () => {
    const all = planFleet(parseCredentials(file))
    expect(all.map((g) => [g.gateway.id, g.factoryIndex, g.machines.length])).toEqual([['gw-a', 0, 2], ['gw-b', 1, 1], ['gw-c', 0, 0]])
    const two = planFleet(parseCredentials(file), 2)
    expect(two.map((g) => g.gateway.id)).toEqual(['gw-a'])
    expect(two[0]!.machines.map((m) => m.machine)).toEqual(['m1', 'm2'])
  })

  it('rejects a file with a bad id or cycle time, naming the field', () => {
    const bad = { ...file, gateways: [{ ...file.gateways[0]!, lines: [{ id: 'l1', machines: [{ id: 'M 1', idealCycleTimeS: 0 }] }] }] }
    expect(() => parseCredentials(bad)).toThrow(/machines/)
    expect(() => parseCredentials({ mqttUrl: 'x', gateways: [] })).toThrow(/no gateways/)
  })
})

describe('machine model start', () => {
  it('counts the parts of the state it starts in from when that state began (a fresh demo does not understate performance)', () => {
    // Models whose first state is running, already for a while: their first reports must cover that span.
    let checked = 0
    for (let seed = 1; seed < 400 && checked < 5; seed++) {
      const model = createMachineModel(SPEC, seed, T0)
      const first = model.step(T0)
      const since = first.state[0]?.tsMs
      if (first.state[0]?.state !== MACHINE_STATE.running || since === undefined || T0 - since < 20 * SPEC.idealCycleTimeS * 1000) continue
      const events = [first, ...run(model, T0 + 1000, T0 + 6000).map((e) => e.ev)]
      const parts = events.flatMap((e) => e.production).reduce((n, p) => n + p.good + p.reject, 0)
      // Cycles run 3-15 % slower than ideal: the parts made since the state began, give or take one in progress.
      const spanS = (T0 + 6000 - since) / 1000
      expect(parts).toBeGreaterThanOrEqual(Math.floor(spanS / (SPEC.idealCycleTimeS * 1.2)) - 1)
      expect(parts).toBeLessThanOrEqual(Math.ceil(spanS / SPEC.idealCycleTimeS) + 1)
      checked++
    }
    expect(checked).toBe(5)
  })
})
