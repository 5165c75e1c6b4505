import { untilQuiet } from './ceilings.js'
import { progress, sleep, waitFor } from './harness.js'
import { type LoadGenerator } from './load-generator.js'
import { verifyStored } from './verify-stored.js'
import { slopePerSecond } from './monitor.js'
import { meanPointsPerMessage } from './payloads.js'
import type { SessionContext } from './session.js'
import { figures, mark, markWithInflux, round, type WindowFigures } from './window.js'

/** Lines per write batch of the service (WRITE_BATCH_SIZE default): the backlog's natural sawtooth. */
const WRITE_BATCH_LINES = 5000

export interface StepResult {
  readonly rate: number
  readonly ok: boolean
  readonly why: string
  readonly t0: number
  readonly t1: number
  readonly figures: WindowFigures
  readonly backlogEnd: number | undefined
  /** Journal backlog trend over the window, messages/s. */
  readonly backlogSlope: number
}

/**
 * One step of offered load: `settleS` to settle (not counted), then
 * `measureS` measured. Sustainable when the generator sent and got
 * acknowledged at least 95% of the offered rate and the journal backlog is
 * not growing: at most two write batches, or else its least-squares trend
 * under 10% of the rate (under 5% once it holds half a second of load), and
 * never more than 3 s of load. The slack absorbs the backlog's sawtooth (it
 * empties a batch at a time).
 */
export async function runStep(ctx: SessionContext, gen: LoadGenerator, rate: number, settleS: number, measureS: number): Promise<StepResult> {
  gen.setRate(rate)
  ctx.monitor.setLabel(`${rate} msg/s offered:`)
  await sleep(settleS * 1000)
  const a = await markWithInflux(gen, ctx.target)
  await sleep(measureS * 1000)
  const b = await markWithInflux(gen, ctx.target)
  const last = await ctx.monitor.read()
  const readings = ctx.monitor.between(a.t, last.t).filter((r) => r.backlog !== undefined)
  const slope = slopePerSecond(readings.map((r) => ({ t: r.t, y: r.backlog! })))
  const f = figures(a, b, gen)
  const ppm = meanPointsPerMessage(ctx.opts.mix, ctx.opts.samples)
  const twoBatches = (2 * WRITE_BATCH_LINES) / ppm
  const backlogEnd = last.backlog
  const problems: string[] = []
  if (f.sentPerSec < 0.95 * rate) {
    // Held back by full windows (acknowledgements too slow), or the generator itself short of CPU?
    const capacity = ctx.opts.window * ctx.target.gateways.length
    const meanInflight = readings.length > 0 ? readings.reduce((a, r) => a + r.inflight, 0) / readings.length : 0
    problems.push(meanInflight >= 0.8 * capacity ? `gateways' windows full (${Math.round(meanInflight)} of ${capacity} unacknowledged): sent only ${f.sentPerSec}/s` : `generator sent only ${f.sentPerSec}/s`)
  }
  if (f.messagesPerSec < 0.95 * rate) problems.push(`acknowledged only ${f.messagesPerSec}/s`)
  if (backlogEnd !== undefined) {
    const growing = slope > 0.1 * rate || (slope > 0.05 * rate && backlogEnd > 0.5 * rate)
    if (backlogEnd > 3 * rate || (backlogEnd > twoBatches && growing)) problems.push(`journal backlog ${backlogEnd} growing ${Math.round(slope)}/s`)
  }
  const ok = problems.length === 0
  progress(
    `step ${rate} msg/s: ${ok ? 'sustained' : 'NOT sustained'} (${f.messagesPerSec} msg/s, ${f.pointsPerSec} points/s acked, ack p99 ${f.ackP99Ms ?? '-'} ms, backlog ${backlogEnd ?? '?'} trend ${Math.round(slope)}/s)${ok ? '' : ': ' + problems.join('; ')}`,
  )
  return { rate, ok, why: problems.join('; '), t0: a.t, t1: b.t, figures: f, backlogEnd, backlogSlope: round(slope, 1) }
}

/**
 * Pauses the load and waits (bounded) until nothing is in flight and the journal backlog is empty,
 * then until InfluxDB is idle (at most 20 s): a backlog just written leaves it snapshotting and
 * compacting, and the next step would pay for the one before.
 */
export async function drain(ctx: SessionContext, gen: LoadGenerator, timeoutMs: number): Promise<boolean> {
  gen.pause()
  ctx.monitor.setLabel('draining:')
  const drained = await waitFor(async () => gen.stats().inflight === 0 && ((await ctx.target.stats())?.journal.unwrittenRecords ?? 1) === 0, timeoutMs)
  if (drained) await untilQuiet(() => ctx.target.influxPid(), 20_000)
  return drained
}

export interface SearchResult {
  readonly best: StepResult | undefined
  readonly sustainable: boolean
  readonly steps: readonly StepResult[]
  readonly probe: { closedLoopMessagesPerSec: number; drainMessagesPerSec: number | null }
}

/**
 * Finds the highest offered rate the service sustains (see runStep): a short
 * closed-loop probe estimates the capacity (acknowledgements, and the drain
 * to InfluxDB from the written-points counter), the first step offers 80% of
 * the lower of the two (or `startRate`), then steps grow by 40% until one
 * fails and bisect between the best sustained and the lowest failed rate
 * until they are within 5%, or the budget of step time runs out. The load
 * pauses and the journal drains after a failed step.
 */
export async function searchMaxRate(ctx: SessionContext, gen: LoadGenerator, budgetS: number, startRate: number): Promise<SearchResult> {
  const ppm = meanPointsPerMessage(ctx.opts.mix, ctx.opts.samples)
  const probeS = Math.min(8, Math.max(3, Math.round(budgetS * 0.15)))
  let used = 0
  let probe = { closedLoopMessagesPerSec: 0, drainMessagesPerSec: null as number | null }
  let rate = startRate
  if (rate <= 0) {
    gen.setRate(0)
    ctx.monitor.setLabel('closed-loop probe:')
    await sleep(1000)
    const a = mark(gen, ctx.target)
    const r0 = await ctx.monitor.read()
    await sleep(probeS * 1000)
    const b = mark(gen, ctx.target)
    const r1 = await ctx.monitor.read()
    used += probeS + 1
    const acked = figures(a, b, gen).messagesPerSec
    const drained = r0.pointsWritten !== undefined && r1.pointsWritten !== undefined ? Math.round((r1.pointsWritten - r0.pointsWritten) / ((r1.t - r0.t) / 1000) / ppm) : null
    probe = { closedLoopMessagesPerSec: acked, drainMessagesPerSec: drained }
    // The journal takes messages far faster than they are decoded and written (log first: the closed
    // loop measures the acknowledgement path alone), so the drain seeds the search; measured while the
    // closed loop floods the journal, it understates a steady rate somewhat, hence the 1.25.
    rate = Math.max(20, Math.round(0.8 * Math.min(acked, drained && drained > 0 ? 1.25 * drained : acked)))
    progress(`probe (closed loop, window ${ctx.opts.window}): ${acked} msg/s acknowledged, ${drained ?? '?'} msg/s written to InfluxDB; first step ${rate} msg/s`)
    await drain(ctx, gen, 120_000)
  }
  const stepS = Math.min(10, Math.max(4, Math.round(budgetS / 6)))
  const settleS = stepS >= 6 ? 1.5 : 1
  const steps: StepResult[] = []
  let good: StepResult | undefined
  let bad: StepResult | undefined
  while (used + stepS <= budgetS + 0.5 && steps.length < 30) {
    const s = await runStep(ctx, gen, Math.round(rate), settleS, stepS - settleS)
    steps.push(s)
    used += stepS
    if (s.ok) {
      if (!good || s.rate > good.rate) good = s
    } else {
      if (!bad || s.rate < bad.rate) bad = s
      await drain(ctx, gen, 60_000)
    }
    if (good && bad && (bad.rate - good.rate) / good.rate < 0.05) break
    if (good && bad) rate = (good.rate + bad.rate) / 2
    else if (good) rate = good.rate * 1.4
    else rate = s.rate * 0.7
    rate = Math.max(10, rate)
  }
  const best = good ?? steps.reduce<StepResult | undefined>((m, s) => (!m || s.figures.messagesPerSec > m.figures.messagesPerSec ? s : m), undefined)
  return { best, sustainable: good !== undefined, steps, probe }
}

/**
 * Waits until the service's journal is empty: at most `timeoutMs`, and gives
 * up sooner when the backlog has not moved for `stallMs` (a stuck drainer
 * should end the run with `drained: false`, not hold it for minutes).
 */
export async function waitForDrain(ctx: SessionContext, timeoutMs: number, stallMs = 60_000): Promise<boolean> {
  const deadline = Date.now() + timeoutMs
  let last: number | undefined
  let lastChange = Date.now()
  while (Date.now() < deadline) {
    const backlog = (await ctx.target.stats())?.journal.unwrittenRecords
    if (backlog === 0) return true
    if (backlog !== last) {
      last = backlog
      lastChange = Date.now()
    } else if (Date.now() - lastChange > stallMs) {
      progress(`the journal is not draining: ${last ?? '?'} records left, not moving for ${Math.round(stallMs / 1000)} s`)
      return false
    }
    await sleep(250)
  }
  progress(`the journal did not drain within ${Math.round(timeoutMs / 1000)} s: ${last ?? '?'} records left`)
  return false
}

/** Stops the load, waits for the journal to drain (bounded) and counts what was lost. */
export async function finish(
  ctx: SessionContext,
  gen: LoadGenerator,
): Promise<{ lost: number; acked: number; stored: number; duplicatePoints: number; drained: boolean; unacknowledgedAtEnd: number; limits: Record<string, number> | null }> {
  await gen.stop(30_000)
  ctx.monitor.setLabel('draining:')
  progress('load stopped; waiting for the journal to drain')
  const drained = await waitForDrain(ctx, 300_000)
  const v = await verifyStored(gen, (q) => ctx.target.query(q), ctx.opts.samples)
  progress(`verified: ${v.acked} acknowledged messages, ${v.stored} stored, ${v.lost} lost, ${v.duplicates} duplicate points`)
  const limits = (await ctx.target.metrics())?.limits ?? null
  return { lost: v.lost, acked: v.acked, stored: v.stored, duplicatePoints: v.duplicates, drained, unacknowledgedAtEnd: gen.stats().inflight, limits }
}

/** The delivery figures every load scenario reports, from `finish`. */
export function deliveryFields(end: Awaited<ReturnType<typeof finish>>): Record<string, unknown> {
  return { acked: end.acked, stored: end.stored, duplicatePoints: end.duplicatePoints, drained: end.drained, limits: end.limits }
}

export function stepSummary(s: StepResult): Record<string, unknown> {
  return { offered: s.rate, messagesPerSec: s.figures.messagesPerSec, pointsPerSec: s.figures.pointsPerSec, ackP99Ms: s.figures.ackP99Ms, backlog: s.backlogEnd ?? null, backlogTrend: s.backlogSlope, sustained: s.ok, ...(s.ok ? {} : { why: s.why }) }
}
