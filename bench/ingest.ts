import { progress, sleep } from './lib/harness.js'
import { UsageError } from './lib/cli.js'
import { BENCH_OPTIONS, COMMON_HELP, extraNum, parseBenchOptions, type BenchOptions } from './lib/options.js'
import { QueryableProbe } from './lib/queryable.js'
import { drain, finish, runStep, searchMaxRate, stepSummary, deliveryFields } from './lib/search.js'
import { coreFigures, loadGenerator, runSession, stopLoad } from './lib/session.js'
import type { BenchResult } from './scenario.js'

/**
 * ingest and latency measure the pipeline's capacity, not the per-gateway
 * publish policy (MQTT_PUBLISH_RATE_PER_GATEWAY, which at its default would
 * cap 20 gateways at 20,000 msg/s): it is off unless --service-env sets it.
 */
const CAPACITY_ENV = { MQTT_PUBLISH_RATE_PER_GATEWAY: '0' }

const PROTOCOL_OPTION = { protocol: { type: 'string' as const } }
/** `--protocol iiot|sparkplug`: the gateways speak iiot/v1 protobuf (default) or Sparkplug B (docs/sparkplug.md). */
function protocolOf(o: BenchOptions): 'iiot' | 'sparkplug' {
  const p = o.extra['protocol'] ?? 'iiot'
  if (p !== 'iiot' && p !== 'sparkplug') throw new UsageError(`--protocol must be iiot or sparkplug, got "${String(p)}"`)
  if (p === 'sparkplug' && o.mix.some((m) => m.kind !== 'telemetry')) throw new UsageError(`--mix ${o.mixText} does not apply with --protocol sparkplug (telemetry only)`)
  return p
}

const INGEST_EXTRA = { 'live-probe': { type: 'boolean' as const }, ...PROTOCOL_OPTION }
const LATENCY_EXTRA = { search: { type: 'string' as const }, fraction: { type: 'string' as const }, ...INGEST_EXTRA }
export const INGEST_OPTIONS = { ...BENCH_OPTIONS, ...INGEST_EXTRA }
export const LATENCY_OPTIONS = { ...BENCH_OPTIONS, ...LATENCY_EXTRA }
const PROBE_HELP = `probe:   --live-probe (also time acknowledgement to the API's live stream) --protocol iiot|sparkplug (what the gateways speak)`
export const INGEST_HELP = `${PROBE_HELP}
         --rate N starts the search at N msg/s instead of probing; --duration S is the search's time budget (default 60)
${COMMON_HELP}`
export const LATENCY_HELP = `hold:    --rate N (msg/s to hold) or --search S (seconds of ingest search for the maximum, default 30) and
         --fraction F (of the maximum to hold, default 0.5); --duration S (the hold, default 30)
${PROBE_HELP}
${COMMON_HELP}`


/**
 * `ingest`: the highest offered rate the service sustains with zero loss
 * (stepped search, see lib/search.ts), and the figures measured in that
 * step's window. `--duration` is the step time budget of the search;
 * `--rate` starts the search there instead of probing.
 */
export async function runIngest(argv: readonly string[]): Promise<BenchResult> {
  const o = parseBenchOptions(argv, { durationS: 60, samples: 10, qos: 1 }, INGEST_EXTRA)
  const protocol = protocolOf(o)
  return runSession('ingest', o, async (ctx) => {
    const gen = loadGenerator(ctx, { protocol })
    const probe = new QueryableProbe(ctx.target, gen, { ...PROBE, live: o.extra['live-probe'] === true })
    try {
      const conn = await gen.connect()
      progress(`${conn.connected} gateways connected in ${conn.seconds.toFixed(1)} s`)
      ctx.monitor.start(gen)
      gen.start()
      probe.start()
      const search = await searchMaxRate(ctx, gen, o.durationS, o.rate)
      await probe.stop()
      const end = await finish(ctx, gen)
      const best = search.best
      const f = best?.figures
      const q = best ? probe.figures(best.t0, best.t1) : probe.figures()
      return {
        core: coreFigures(f, q, end.lost, gen.connectedCount()),
        extra: {
          sustainable: search.sustainable,
          protocol,
          method: 'stepped',
          offeredPerSec: best?.rate ?? null,
          influxCpuSecondsPerMillionPoints: f?.influxCpuSecondsPerMillionPoints ?? null,
          benchCpuSecondsPerMillionPoints: f?.benchCpuSecondsPerMillionPoints ?? null,
          cores: f?.cores ?? null,
          influxWrites: f?.influxWrites ?? null,
          serviceAck: f?.serviceAck ?? null,
          generatorLag: f?.generatorLag ?? null,
          probe: search.probe,
          steps: search.steps.map(stepSummary),
          queryableProbes: q.probes,
          queryableTimeouts: q.probeTimeouts,
          // From a probe's acknowledgement to its event on the live stream (live table and stream updated).
          liveP50Ms: q.liveP50Ms,
          liveP99Ms: q.liveP99Ms,
          liveMissing: q.liveMissing,
          ...deliveryFields(end),
        },
      }
    } finally {
      await stopLoad(probe, gen)
    }
  }, CAPACITY_ENV)
}

/** The probes' defaults (queryable.ts); `--live-probe` adds the acknowledgement-to-live figures. */
const PROBE = { intervalMs: 200, pollMs: 20, timeoutMs: 10_000 }

/**
 * `latency`: a fixed rate at half the maximum (`--rate`, or a short ingest
 * search of `--search` seconds first), held for `--duration` seconds;
 * acknowledgement and publish-to-queryable latency over that window.
 */
export async function runLatency(argv: readonly string[]): Promise<BenchResult> {
  const o = parseBenchOptions(argv, { durationS: 30, samples: 10, qos: 1 }, LATENCY_EXTRA)
  const protocol = protocolOf(o)
  // --search and --fraction find the rate to hold; with --rate there is nothing to find.
  if (o.rate > 0) for (const k of ['search', 'fraction']) if (o.extra[k] !== undefined) throw new UsageError(`--${k} applies only without --rate (it finds the rate to hold)`)
  const searchS = extraNum(o, 'search', 30, 10, 600)
  const fraction = extraNum(o, 'fraction', 0.5, 0.05, 1)
  return runSession('latency', o, async (ctx) => {
    const gen = loadGenerator(ctx, { protocol })
    const probe = new QueryableProbe(ctx.target, gen, { ...PROBE, live: o.extra['live-probe'] === true })
    try {
      await gen.connect()
      ctx.monitor.start(gen)
      gen.start()
      probe.start()
      let maxRate: number | null = null
      let rate = o.rate
      if (rate <= 0) {
        const search = await searchMaxRate(ctx, gen, searchS, 0)
        maxRate = search.best?.figures.messagesPerSec ?? null
        rate = Math.max(10, Math.round(fraction * (maxRate ?? 100)))
        progress(`maximum ${maxRate ?? '?'} msg/s${search.sustainable ? '' : ' (none sustained)'}; holding ${rate} msg/s for ${o.durationS} s`)
        await drain(ctx, gen, 60_000)
      }
      const step = await runStep(ctx, gen, rate, 2, o.durationS)
      await sleep(200)
      await probe.stop()
      const end = await finish(ctx, gen)
      const f = step.figures
      const q = probe.figures(step.t0, step.t1)
      return {
        core: coreFigures(f, q, end.lost, gen.connectedCount()),
        extra: {
          rate,
          protocol,
          maxRate,
          fraction: maxRate === null ? null : fraction,
          sustained: step.ok,
          influxCpuSecondsPerMillionPoints: f.influxCpuSecondsPerMillionPoints,
          benchCpuSecondsPerMillionPoints: f.benchCpuSecondsPerMillionPoints,
          cores: f.cores,
          influxWrites: f.influxWrites,
          serviceAck: f.serviceAck,
          generatorLag: f.generatorLag,
          queryableProbes: q.probes,
          queryableTimeouts: q.probeTimeouts,
          // From a probe's acknowledgement to its event on the live stream (live table and stream updated).
          liveP50Ms: q.liveP50Ms,
          liveP99Ms: q.liveP99Ms,
          liveMissing: q.liveMissing,
          ...deliveryFields(end),
        },
      }
    } finally {
      await stopLoad(probe, gen)
    }
  }, CAPACITY_ENV)
}
