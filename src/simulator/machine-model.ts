import { inspectPart } from './inspection.js'
import type { ProducedOutput } from './material-flow.js'
import { COUNT_MODE_DELTA, MACHINE_STATE, type InspectionMsg, type MachineStateCode, type ProductionReportMsg, type SampleMsg, type StateChangeMsg } from './messages.js'
import { createPrng } from './prng.js'
import { createSignals } from './signals.js'
import { fault, initialState, nextState, setup, type StateEntry } from './state-machine.js'

export interface MachineSpec {
  readonly line: string
  readonly machine: string
  readonly idealCycleTimeS: number
}

/** What happened between two steps; empty arrays mean nothing to publish. */
export interface MachineEvents {
  readonly state: StateChangeMsg[]
  readonly production: ProductionReportMsg[]
  readonly quality: InspectionMsg[]
  /** The lot each production report's parts went into (for the material flow, material-flow.ts). */
  readonly output: ProducedOutput[]
}

export interface MachineSnapshot {
  readonly state: MachineStateCode
  readonly reasonCode: string
  readonly partsTotal: number
  readonly good: number
  readonly reject: number
  readonly wear: number
  readonly workOrder: string
  readonly product: string
}

export interface MachineModel {
  readonly spec: MachineSpec
  /** Advances the simulation to `nowMs` (never backwards) and returns the events due. */
  step(nowMs: number): MachineEvents
  /** `count` samples spread evenly over the `spanMs` before `nowMs`. */
  telemetry(nowMs: number, count: number, spanMs: number): SampleMsg[]
  snapshot(): MachineSnapshot
}

export const PRODUCTION_INTERVAL_MS = 5_000
export const STATE_REPUBLISH_MS = 60_000
export const INSPECT_EVERY_PARTS = 5
const LOT_SIZE = 100

const PRODUCTS = [
  { code: 'HSG-220-A', program: 'O1220', rpm: 8000 },
  { code: 'FLG-080', program: 'O0805', rpm: 6500 },
  { code: 'SHF-12-B', program: 'O1212', rpm: 9500 },
  { code: 'BRK-330', program: 'O3300', rpm: 7200 },
] as const

const round = (v: number, digits: number) => Math.round(v * 10 ** digits) / 10 ** digits

/**
 * A CNC machine as a seeded state machine: it runs, makes parts slightly slower
 * than the ideal cycle, wears its tool (so the bore diameter drifts towards the
 * upper limit until a tool change), and stops now and then. Pure: time comes
 * only from the `nowMs` arguments, randomness only from `seed`.
 */
export function createMachineModel(spec: MachineSpec, seed: number, startMs: number): MachineModel {
  const prng = createPrng(seed)
  const signals = createSignals(prng, startMs)
  const slowdown = prng.range(1.03, 1.12) // real cycles are a bit slower than the design cycle
  const boreBias = prng.normal(0, 0.004) // each machine's calibration offset
  const toolLifeParts = prng.int(300, 600)
  let product = prng.pick(PRODUCTS)
  let workOrderNo = prng.int(1, 8000)
  let partsTotal = prng.int(10_000, 500_000)
  let partsInWorkOrder = 0
  let wear = prng.range(0, 0.6)
  let good = 0
  let reject = 0

  const first = initialState(prng)
  let entry: StateEntry = first
  let enteredAt = startMs - Math.round(prng.range(0, first.durationMs / 2)) // already in this state for a while
  let endsAt = enteredAt + first.durationMs
  // Parts are made from the moment the current state began, not from the simulator's start: the first
  // state report says the machine has run since `enteredAt`, so its first production report covers that
  // span too, and a fresh demo's performance (parts per run time) is not understated.
  let lastMs = enteredAt
  let lastStateSentMs = Number.NEGATIVE_INFINITY
  let nextProductionAt = startMs + prng.int(0, PRODUCTION_INTERVAL_MS)
  let cycleMs = drawCycleMs()
  let progress = prng.next() // fraction of the current part already done
  let pending = { good: 0, reject: 0, cycleSum: 0, parts: 0 }
  let toolChangeDue = false

  function drawCycleMs(): number {
    return spec.idealCycleTimeS * 1000 * slowdown * (1 + Math.abs(prng.normal(0, 0.03)))
  }

  function workOrder(tsMs: number): string {
    return `WO-${new Date(tsMs).getUTCFullYear()}-${String(workOrderNo).padStart(4, '0')}`
  }

  function lotOf(tsMs: number): string {
    return `${workOrder(tsMs)}-L${String(Math.floor(partsInWorkOrder / LOT_SIZE) + 1).padStart(2, '0')}`
  }

  function report(tsMs: number, ev: MachineEvents): ProductionReportMsg {
    const cycleS = pending.parts > 0 ? pending.cycleSum / pending.parts : cycleMs / 1000
    const r = { mode: COUNT_MODE_DELTA, good: pending.good, reject: pending.reject, cycleTimeS: round(cycleS, 2), workOrder: workOrder(tsMs), product: product.code, tsMs }
    ev.output.push({ workOrder: r.workOrder, product: r.product, lot: lotOf(tsMs), good: r.good, reject: r.reject, tsMs })
    pending = { good: 0, reject: 0, cycleSum: 0, parts: 0 }
    return r
  }

  function completePart(tsMs: number, ev: MachineEvents): void {
    partsTotal++
    partsInWorkOrder++
    // ~2 % scrap, more as the tool wears.
    if (prng.chance(0.015 + 0.02 * wear * wear)) {
      pending.reject++
      reject++
    } else {
      pending.good++
      good++
    }
    pending.parts++
    pending.cycleSum += cycleMs / 1000
    wear = Math.min(1, wear + 1 / toolLifeParts)
    if (partsInWorkOrder % INSPECT_EVERY_PARTS === 0) {
      ev.quality.push(...inspectPart(prng, boreBias, wear, lotOf(tsMs), tsMs))
    }
    if (wear >= 0.9) toolChangeDue = true
  }

  /** Makes parts from `from` to `to`; stops early at the part that makes a tool change due. */
  function produce(from: number, to: number, ev: MachineEvents): number {
    let t = from
    for (;;) {
      const left = (1 - progress) * cycleMs
      if (t + left > to) {
        progress += (to - t) / cycleMs
        return to
      }
      t += left
      progress = 0
      completePart(Math.round(t), ev)
      cycleMs = drawCycleMs()
      if (toolChangeDue) return t
    }
  }

  function enter(next: StateEntry, tsMs: number, ev: MachineEvents): void {
    if (entry.state === MACHINE_STATE.running && pending.parts > 0) ev.production.push(report(tsMs, ev))
    if (next.reasonCode === 'changeover') {
      workOrderNo += prng.int(1, 40) // other machines took the orders in between
      partsInWorkOrder = 0
      product = prng.pick(PRODUCTS)
    }
    if (next.reasonCode === 'tool-change' || next.reasonCode === 'tool-wear') wear = prng.range(0, 0.05)
    if (next.state === MACHINE_STATE.running) nextProductionAt = tsMs + PRODUCTION_INTERVAL_MS
    entry = next
    enteredAt = tsMs
    endsAt = tsMs + next.durationMs
    ev.state.push(change())
    lastStateSentMs = tsMs
  }

  function change(): StateChangeMsg {
    return { state: entry.state, reasonCode: entry.reasonCode, alarmCodes: [...entry.alarmCodes], tsMs: enteredAt }
  }

  return {
    spec,
    step(nowMs) {
      const ev: MachineEvents = { state: [], production: [], quality: [], output: [] }
      if (nowMs < lastMs) return ev
      for (;;) {
        const until = Math.min(nowMs, endsAt)
        lastMs = entry.state === MACHINE_STATE.running ? produce(lastMs, until, ev) : until
        if (toolChangeDue) {
          toolChangeDue = false
          // Usually the operator changes the worn tool in time; sometimes it breaks first.
          const t = Math.round(lastMs)
          enter(prng.chance(0.8) ? setup(prng, 'tool-change') : fault(prng, 'tool-wear'), t, ev)
          continue
        }
        if (endsAt > nowMs) break
        enter(nextState(prng, entry.state), endsAt, ev)
      }
      lastMs = nowMs
      if (entry.state === MACHINE_STATE.running && nowMs >= nextProductionAt) {
        ev.production.push(report(nowMs, ev))
        nextProductionAt = Math.max(nextProductionAt + PRODUCTION_INTERVAL_MS, nowMs + 1)
      }
      // Re-announce the current state so subscribers that joined late learn it.
      if (ev.state.length === 0 && nowMs - lastStateSentMs >= STATE_REPUBLISH_MS) {
        ev.state.push(change())
        lastStateSentMs = nowMs
      }
      return ev
    },
    telemetry(nowMs, count, spanMs) {
      const ctx = { state: entry.state, reasonCode: entry.reasonCode, wear, program: product.program, spindleRpm: product.rpm, partsTotal }
      const samples: SampleMsg[] = []
      for (let i = 0; i < count; i++) samples.push(signals.sample(ctx, nowMs - Math.round((spanMs * (count - 1 - i)) / count)))
      return samples
    },
    snapshot: () => ({ state: entry.state, reasonCode: entry.reasonCode, partsTotal, good, reject, wear, workOrder: workOrder(lastMs), product: product.code }),
  }
}
