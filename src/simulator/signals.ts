import { MACHINE_STATE, QUALITY, type MachineStateCode, type SampleMsg } from './messages.js'
import type { Prng } from './prng.js'

/** What the signals depend on, as the machine model sees it at the sample time. */
export interface SignalContext {
  readonly state: MachineStateCode
  readonly reasonCode: string
  /** Tool wear 0..1: heats the spindle, raises current and vibration. */
  readonly wear: number
  readonly program: string
  readonly spindleRpm: number
  readonly partsTotal: number
}

export const SIGNAL_NAMES = ['spindle.temperature', 'spindle.speed', 'motor.current', 'vibration.rms', 'door.open', 'program.name', 'parts.total'] as const

const AMBIENT_C = 24
const THERMAL_TAU_S = 240

const round = (v: number, digits: number) => Math.round(v * 10 ** digits) / 10 ** digits

/**
 * The machine's sensors: each call samples the next signal in rotation, so a
 * batch of any size covers all signals evenly over time. The spindle
 * temperature is a first-order lag towards a state-dependent target (it heats
 * and cools slowly); the rest follow the state with noise.
 */
export function createSignals(prng: Prng, startMs: number): { sample(ctx: SignalContext, tsMs: number): SampleMsg } {
  let cursor = 0
  let temperature = AMBIENT_C + prng.range(0, 20)
  let temperatureTs = startMs
  let doorState: MachineStateCode | undefined
  let doorOpen = false

  const quality = () => {
    const r = prng.next()
    return r < 0.002 ? QUALITY.bad : r < 0.01 ? QUALITY.uncertain : QUALITY.good
  }

  const temperatureAt = (ctx: SignalContext, tsMs: number) => {
    const overheating = ctx.reasonCode === 'spindle-overheat'
    const target = overheating ? 78 : ctx.state === MACHINE_STATE.running ? 46 + 10 * ctx.wear : AMBIENT_C + 2
    const dtS = Math.max(0, tsMs - temperatureTs) / 1000
    temperatureTs = Math.max(temperatureTs, tsMs)
    temperature += (target - temperature) * (1 - Math.exp(-dtS / THERMAL_TAU_S)) + prng.normal(0, 0.04)
    return round(temperature, 2)
  }

  const door = (ctx: SignalContext) => {
    // Decided once per state, so the door does not flap within one stop.
    if (ctx.state !== doorState) {
      doorState = ctx.state
      doorOpen = ctx.state === MACHINE_STATE.setup ? prng.chance(0.85) : ctx.state === MACHINE_STATE.running ? false : prng.chance(0.3)
    }
    return doorOpen
  }

  return {
    sample(ctx, tsMs) {
      const signal = SIGNAL_NAMES[cursor % SIGNAL_NAMES.length]!
      cursor = (cursor + 1) % SIGNAL_NAMES.length
      const running = ctx.state === MACHINE_STATE.running
      const base = { signal, tsMs, quality: quality() }
      switch (signal) {
        case 'spindle.temperature':
          return { ...base, doubleValue: temperatureAt(ctx, tsMs), unit: 'degC' }
        case 'spindle.speed':
          return { ...base, doubleValue: running ? round(ctx.spindleRpm * (1 + prng.normal(0, 0.004)), 1) : 0, unit: 'rpm' }
        case 'motor.current':
          return { ...base, doubleValue: round(Math.max(0, running ? prng.normal(11 + 4 * ctx.wear, 0.4) : prng.normal(0.6, 0.05)), 3), unit: 'A' }
        case 'vibration.rms':
          return { ...base, doubleValue: round(running ? 1.6 + 2.5 * ctx.wear + Math.abs(prng.normal(0, 0.15)) : 0.05 + Math.abs(prng.normal(0, 0.02)), 3), unit: 'mm/s' }
        case 'door.open':
          return { ...base, boolValue: door(ctx), unit: '' }
        case 'program.name':
          return { ...base, stringValue: ctx.program, unit: '' }
        case 'parts.total':
          return { ...base, intValue: ctx.partsTotal, unit: 'pcs' }
      }
    },
  }
}
