import { progress, sleep, waitFor } from './lib/harness.js'
import { verifyStored } from './lib/verify-stored.js'
import { BENCH_OPTIONS, COMMON_HELP, extraNum, parseBenchOptions } from './lib/options.js'
import { meanPointsPerMessage } from './lib/payloads.js'
import { QueryableProbe } from './lib/queryable.js'
import { waitForDrain } from './lib/search.js'
import { coreFigures, loadGenerator, runSession, stopLoad } from './lib/session.js'
import { figures, markWithInflux, pct } from './lib/window.js'
import type { BenchResult } from './scenario.js'

const FLOOD_EXTRA = { 'max-rss': { type: 'string' as const } }
export const FLOOD_OPTIONS = { ...BENCH_OPTIONS, ...FLOOD_EXTRA }
export const FLOOD_HELP = `memory:  --max-rss MB (the bound on the service's peak RSS, default 400); --rate N (default: as fast as the sockets take it)
${COMMON_HELP}`

/**
 * `flood`: QoS 0 as fast as the sockets take it (or `--rate`), for
 * `--duration` seconds (default 60), with the service's default publish
 * policy (per-gateway rate limit) in force. `messagesPerSec` is what the
 * service took in meanwhile; `writtenPerSec` what the gateways wrote. QoS 0 has no acknowledgement to hold
 * back, so the only brake is TCP: the service must keep its memory bounded
 * (peak RSS against `--max-rss`, default 400 MB) and stay ready (/readyz
 * polled every 500 ms, 2 s timeout). Afterwards the journal drains and the
 * messages are counted: `qos0Dropped` is what the service shed by design
 * (journal full); `lost` is what it neither stored nor counted as dropped.
 */
export async function runFlood(argv: readonly string[]): Promise<BenchResult> {
  const o = parseBenchOptions(argv, { durationS: 60, qos: 0, samples: 10, window: 1000 }, FLOOD_EXTRA)
  const maxRssMb = extraNum(o, 'max-rss', 400, 50, 100_000)
  return runSession('flood', o, async (ctx) => {
    const gen = loadGenerator(ctx, { messagesPerSecond: o.rate })
    const probe = new QueryableProbe(ctx.target, gen)
    const ready = { checks: 0, failures: 0, ms: [] as number[] }
    let polling = true
    const poller = (async () => {
      while (polling) {
        const r = await ctx.target.ready(2000)
        ready.checks++
        ready.ms.push(r.ms)
        if (!r.ok) {
          ready.failures++
          progress(`/readyz not ready (or no answer within 2 s) after ${Math.round(r.ms)} ms`)
        }
        await sleep(500)
      }
    })()
    try {
      await gen.connect()
      ctx.monitor.setLabel(`flood QoS ${o.qos}:`)
      ctx.monitor.start(gen)
      const s0 = await ctx.target.stats()
      const tS0 = performance.now()
      gen.start()
      probe.start()
      const a = await markWithInflux(gen, ctx.target)
      await sleep(o.durationS * 1000)
      const b = await markWithInflux(gen, ctx.target)
      const s1 = await ctx.target.stats()
      const tS1 = performance.now()
      // What the service took in (it reads on behind the sockets' buffers), against what the gateways wrote.
      const intake = s0 && s1 ? Math.round((s1.received - s0.received) / ((tS1 - tS0) / 1000)) : undefined
      await gen.stop(30_000)
      polling = false
      await poller
      await probe.stop()
      const f = figures(a, b, gen)
      // QoS 0: what was written to the sockets is still arriving; wait until the service has read it all.
      ctx.monitor.setLabel('settling:')
      let lastReceived = -1
      await waitFor(async () => {
        const s = await ctx.target.stats()
        const settled = s !== undefined && s.received === lastReceived
        lastReceived = s?.received ?? -1
        return settled
      }, 120_000)
      progress('flood stopped; waiting for the journal to drain')
      ctx.monitor.setLabel('draining:')
      const drained = await waitForDrain(ctx, 300_000)
      const stats = await ctx.target.stats()
      const limits = (await ctx.target.metrics())?.limits ?? null
      const v = await verifyStored(gen, (q) => ctx.target.query(q), o.samples)
      const dropped = stats?.qos0Dropped ?? 0
      const q = probe.figures()
      const peak = ctx.monitor.peakRssMb()
      const sortedReady = [...ready.ms].sort((x, y) => x - y)
      progress(`flood: ${v.acked} messages written, ${v.stored} stored, ${dropped} dropped by the service (journal full), ${v.lost - dropped} unaccounted; peak RSS ${peak?.toFixed(0) ?? '?'} MB; /readyz failed ${ready.failures} of ${ready.checks}`)
      return {
        core: coreFigures(f, q, Math.max(0, v.lost - dropped), gen.connectedCount(), { messagesPerSec: intake ?? f.messagesPerSec, pointsPerSec: Math.round((intake ?? f.messagesPerSec) * meanPointsPerMessage(o.mix, o.samples)) }),
        extra: {
          stayedReady: ready.failures === 0 && ready.checks > 0,
          readyChecks: ready.checks,
          readyFailures: ready.failures,
          readyzP99Ms: pct(sortedReady, 0.99),
          maxRssMb,
          rssBounded: peak !== undefined && peak <= maxRssMb,
          writtenPerSec: f.messagesPerSec,
          written: v.acked,
          stored: v.stored,
          storedPerSec: Math.round(v.stored / f.seconds),
          qos0Dropped: dropped,
          missing: v.lost,
          duplicatePoints: v.duplicates,
          drained,
          limits,
          influxCpuSecondsPerMillionPoints: f.influxCpuSecondsPerMillionPoints,
          benchCpuSecondsPerMillionPoints: f.benchCpuSecondsPerMillionPoints,
          cores: f.cores,
          influxWrites: f.influxWrites,
          queryableProbes: q.probes,
          queryableTimeouts: q.probeTimeouts,
        },
      }
    } finally {
      polling = false
      await poller
      await stopLoad(probe, gen)
    }
  })
}
