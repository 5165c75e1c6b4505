import { AppError } from '../errors.js'
import { TIMELINE_STATES } from './state-timeline.js'
import type { StateInterval, TimelineState } from './state-timeline.js'
import { unionMs } from './time-window.js'
import type { TimeWindow } from './time-window.js'
import { timeInWindows } from './oee-inputs.js'

/**
 * OEE = availability x performance x quality (docs/api.md), with every
 * input returned beside the result so the plant engineer can check it.
 *
 * Time model, inside the planned (shift) time of the window:
 *   plannedProductionTime = plannedTime - plannedStop
 *   runTime               = time in 'running'
 *   plannedProductionTime = runTime + unplannedDowntime (unplanned_stop + fault)
 *                           + idle + setup + offline + unknown
 * so idle, setup, offline and unknown (no data) time are availability losses
 * beside the unplanned downtime; only planned stops leave the denominator.
 *   availability = runTime / plannedProductionTime
 *   performance  = idealCycleTime x totalCount / runTime (not capped)
 *   quality      = goodCount / totalCount
 *   oee          = availability x performance x quality
 */
export interface OeeInput {
  /** Planned (shift) time, ms: `plannedTimeMs()` or the length of the windows the states were cut with. */
  readonly plannedTimeMs: number
  /** Ms per state inside the planned time (`timeInWindows(...).byStateMs`); missing states count 0. */
  readonly stateMs: Readonly<Partial<Record<TimelineState, number>>>
  /** The machine's ideal (design) cycle time per part, seconds (registry). */
  readonly idealCycleTimeS: number
  /** Counts produced inside the planned time (`sumCountsInWindows`). */
  readonly goodCount: number
  readonly rejectCount: number
}

export interface OeeResult {
  readonly plannedTimeMs: number
  readonly plannedStopMs: number
  readonly plannedProductionTimeMs: number
  readonly runTimeMs: number
  /** unplanned_stop + fault. */
  readonly unplannedDowntimeMs: number
  /** The other availability losses (see the time model above). */
  readonly idleMs: number
  readonly setupMs: number
  readonly offlineMs: number
  /** Planned time with no known state (before the first state, or not covered by the given states). */
  readonly unknownMs: number
  /** For a machine its ideal cycle time; for a line the output-weighted mean (null with no output). */
  readonly idealCycleTimeS: number | null
  /** idealCycleTime x totalCount, ms: the time the output would take at ideal speed. */
  readonly idealOutputTimeMs: number
  readonly totalCount: number
  readonly goodCount: number
  readonly rejectCount: number
  /** null when there is no planned production time. */
  readonly availability: number | null
  /** null when there is no run time. Raw, never capped. */
  readonly performance: number | null
  /** performance > 1 (beyond float noise): the ideal cycle time is set too slow or counts are wrong. */
  readonly performanceAbove1: boolean
  /** null when nothing was produced. */
  readonly quality: number | null
  /** A x P x Q; 0 when time was planned but nothing produced; null when no time was planned, or output without run time. */
  readonly oee: number | null
}

/** Floating-point slack for performanceAbove1, so an exactly ideal machine is not flagged. */
const ABOVE_1_EPSILON = 1e-9

/** OEE from its inputs (time model in the OeeInput docs). Throws IIOT_ERR_INTERNAL when the states add up to more than the planned time. */
export function computeOee(input: OeeInput): OeeResult {
  const s = (state: TimelineState): number => input.stateMs[state] ?? 0
  const coveredMs = TIMELINE_STATES.reduce((sum, st) => sum + s(st), 0)
  if (coveredMs > input.plannedTimeMs) {
    throw new AppError('IIOT_ERR_INTERNAL', `OEE: state time ${coveredMs} ms exceeds planned time ${input.plannedTimeMs} ms (cut the states with the same windows)`)
  }
  const totalCount = input.goodCount + input.rejectCount
  return finish({
    plannedTimeMs: input.plannedTimeMs,
    plannedStopMs: s('planned_stop'),
    plannedProductionTimeMs: input.plannedTimeMs - s('planned_stop'),
    runTimeMs: s('running'),
    unplannedDowntimeMs: s('unplanned_stop') + s('fault'),
    idleMs: s('idle'),
    setupMs: s('setup'),
    offlineMs: s('offline'),
    // Planned time the states do not cover is unknown too: a loss, never silently run time.
    unknownMs: s('unknown') + input.plannedTimeMs - coveredMs,
    idealCycleTimeS: input.idealCycleTimeS,
    idealOutputTimeMs: input.idealCycleTimeS * 1000 * totalCount,
    totalCount,
    goodCount: input.goodCount,
    rejectCount: input.rejectCount,
  })
}

/**
 * OEE of one machine over planned windows (`plannedWindows()`, or one shift
 * occurrence clipped to the timeline's window): the states are cut with the
 * windows, and the planned time is the windows' union. Counts must come from
 * the same windows (`sumCountsInWindows`).
 */
export function machineOee(input: { intervals: readonly StateInterval[]; windows: readonly TimeWindow[]; idealCycleTimeS: number; goodCount: number; rejectCount: number }): OeeResult {
  const { intervals, windows, ...rest } = input
  return computeOee({ ...rest, plannedTimeMs: unionMs(windows), stateMs: timeInWindows(intervals, windows).byStateMs })
}

/**
 * A line's OEE rolled up from its machines' results by summing the inputs
 * (planned and run time, ideal output time Σ idealCycleTime_i x total_i, good
 * and total counts) and recomputing A, P and Q from the sums, so machines
 * weigh by their planned time and output: never the mean of the machines'
 * OEEs. This treats the line as the sum of its machines' capacity; on a strict
 * serial line the constraint machine's own OEE is the figure to watch. The
 * per-machine results come back unchanged in `machines`.
 */
export function lineOee<M extends OeeResult>(machineResults: readonly M[]): OeeResult & { readonly machines: readonly M[] } {
  const sum = (k: 'plannedTimeMs' | 'plannedStopMs' | 'plannedProductionTimeMs' | 'runTimeMs' | 'unplannedDowntimeMs' | 'idleMs' | 'setupMs' | 'offlineMs' | 'unknownMs' | 'idealOutputTimeMs' | 'totalCount' | 'goodCount' | 'rejectCount'): number =>
    machineResults.reduce((acc, m) => acc + m[k], 0)
  const totalCount = sum('totalCount')
  const idealOutputTimeMs = sum('idealOutputTimeMs')
  const rolled = finish({
    plannedTimeMs: sum('plannedTimeMs'),
    plannedStopMs: sum('plannedStopMs'),
    plannedProductionTimeMs: sum('plannedProductionTimeMs'),
    runTimeMs: sum('runTimeMs'),
    unplannedDowntimeMs: sum('unplannedDowntimeMs'),
    idleMs: sum('idleMs'),
    setupMs: sum('setupMs'),
    offlineMs: sum('offlineMs'),
    unknownMs: sum('unknownMs'),
    idealCycleTimeS: totalCount > 0 ? idealOutputTimeMs / 1000 / totalCount : null,
    idealOutputTimeMs,
    totalCount,
    goodCount: sum('goodCount'),
    rejectCount: sum('rejectCount'),
  })
  return { ...rolled, machines: machineResults }
}

type Inputs = Omit<OeeResult, 'availability' | 'performance' | 'performanceAbove1' | 'quality' | 'oee'>

/** The ratios from the inputs: null where the denominator is 0, never NaN or Infinity. */
function finish(i: Inputs): OeeResult {
  const availability = i.plannedProductionTimeMs > 0 ? i.runTimeMs / i.plannedProductionTimeMs : null
  const performance = i.runTimeMs > 0 ? i.idealOutputTimeMs / i.runTimeMs : null
  const quality = i.totalCount > 0 ? i.goodCount / i.totalCount : null
  let oee: number | null = null
  if (availability !== null) {
    // Nothing produced in planned time is an OEE of 0 (fully productive time is 0), even though P or Q are undefined.
    if (i.totalCount === 0) oee = 0
    else if (performance !== null && quality !== null) oee = availability * performance * quality
  }
  return { ...i, availability, performance, performanceAbove1: performance !== null && performance > 1 + ABOVE_1_EPSILON, quality, oee }
}
