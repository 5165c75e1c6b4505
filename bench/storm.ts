import { progress, sleep, waitFor } from './lib/harness.js'
import { UsageError } from './lib/cli.js'
import { BENCH_OPTIONS, COMMON_HELP, extraNum, parseBenchOptions } from './lib/options.js'
import { memoryMb } from './lib/proc.js'
import { QueryableProbe } from './lib/queryable.js'
import { finish, deliveryFields } from './lib/search.js'
import { coreFigures, loadGenerator, runSession, stopLoad } from './lib/session.js'
import { figures, mark, markWithInflux, round, type Mark } from './lib/window.js'
import type { LoadGenerator } from './lib/load-generator.js'
import type { BenchTarget } from './lib/target.js'
import type { BenchResult } from './scenario.js'

/** The hold is reported in slices of this length too (`holdBySlice`). */
const SLICE_MS = 5000

const STORM_EXTRA = { cycles: { type: 'string' as const }, drop: { type: 'string' as const }, 'connect-concurrency': { type: 'string' as const }, 'max-rss': { type: 'string' as const } }
export const STORM_OPTIONS = { ...BENCH_OPTIONS, ...STORM_EXTRA }
export const STORM_HELP = `storms:  --cycles N (mass reconnects, default 2) --drop sockets|restart --connect-concurrency N --max-rss MB (default 400)
         defaults: --gateways 2000 --machines 1 --duration 20 (the hold) --rate (default 1 msg/s per gateway)
${COMMON_HELP}`

/**
 * `storm`: many gateways connecting at once, holding a light QoS 1 load, and
 * reconnecting en masse `--cycles` times, either after their sockets are cut
 * (`--drop sockets`, a network blip) or after the service restarts
 * (`--drop restart`, a deploy: every gateway re-authenticates against a cold
 * cache). Reports how long the storms take, how many connections were
 * refused, the service's memory with every gateway connected, and (as every
 * scenario) whether an acknowledged message was lost.
 */
export async function runStorm(argv: readonly string[]): Promise<BenchResult> {
  const o = parseBenchOptions(argv, { gateways: 2000, machines: 1, samples: 10, qos: 1, durationS: 20, hashN: 1024, window: 20 }, STORM_EXTRA)
  const cycles = extraNum(o, 'cycles', 2, 0, 20)
  const drop = (o.extra.drop as string | undefined) ?? 'sockets'
  if (drop !== 'sockets' && drop !== 'restart') throw new UsageError(`--drop must be sockets or restart, got "${drop}"`)
  if (drop === 'restart' && o.target) throw new UsageError('--drop restart needs the self-contained target (the bench restarts the service)')
  const concurrency = extraNum(o, 'connect-concurrency', o.gateways, 1, 5000)
  const maxRssMb = extraNum(o, 'max-rss', 400, 50, 100_000)
  // Light load: one message per gateway per second unless --rate says otherwise.
  const rate = o.rate > 0 ? o.rate : o.gateways
  return runSession('storm', o, async (ctx) => {
    const gen = loadGenerator(ctx, { messagesPerSecond: rate, connectConcurrency: concurrency, reconnectPeriodMs: 1000 })
    const probe = new QueryableProbe(ctx.target, gen)
    const n = ctx.target.gateways.length
    try {
      const rssBefore = memoryMb(ctx.target.servicePid())?.rss
      ctx.monitor.setLabel('connecting:')
      ctx.monitor.start(gen)
      const conn = await gen.connect({ requireAll: false, timeoutMs: 180_000 })
      progress(`connect storm: ${conn.connected} of ${n} gateways connected in ${conn.seconds.toFixed(2)} s (${gen.stats().refused} refused)`)
      gen.start()
      probe.start()
      const tStart = performance.now()
      ctx.monitor.setLabel(`holding ${n} gateways:`)
      // The load starts with the last CONNACK, as real gateways' would; the hold is measured once the
      // service has caught up with the connect storm's wake (settleSeconds says how long that took).
      const settleSeconds = await settle(ctx.target, gen, rate)
      progress(`settled ${settleSeconds.toFixed(1)} s after the load started`)
      const a = await markWithInflux(gen, ctx.target)
      // The hold in slices of 5 s: whether a tail is spread over it or sits at its start (the connect storm's wake).
      const slices: Mark[] = [a]
      const holdEnd = performance.now() + o.durationS * 1000
      while (performance.now() < holdEnd - 500) {
        await sleep(Math.min(SLICE_MS, holdEnd - performance.now()))
        slices.push(mark(gen, ctx.target))
      }
      const b = await markWithInflux(gen, ctx.target)
      slices[slices.length - 1] = b
      const hold = figures(a, b, gen)
      const rssHeld = memoryMb(ctx.target.servicePid())?.rss
      const connectedHeld = (await ctx.target.connectedClients()) ?? gen.connectedCount()
      progress(`held ${connectedHeld} gateways: ${hold.messagesPerSec} msg/s, ack p99 ${hold.ackP99Ms ?? '-'} ms, service RSS ${rssHeld?.toFixed(0) ?? '?'} MB`)
      const reconnects: number[] = []
      let allBack = true
      for (let cycle = 1; cycle <= cycles; cycle++) {
        ctx.monitor.setLabel(`storm ${cycle}:`)
        // Reconnected = connected through a CONNACK after the cut: a socket destroyed but not yet
        // seen closed by mqtt.js still reads as connected, and must not count as back.
        // Timed from the cut, or from the restarted service answering /healthz.
        const mark = gen.connectionMark()
        let t0 = performance.now()
        if (drop === 'sockets') {
          const dropped = await gen.dropConnections()
          progress(`storm ${cycle}: cut ${dropped} connections`)
        } else {
          const local = ctx.target.local!
          progress(`storm ${cycle}: restarting the service`)
          await local.service.stop()
          await local.service.start(60_000)
          t0 = performance.now()
        }
        const back = await waitFor(() => gen.reconnectedSince(mark) === n, 180_000)
        const seconds = (performance.now() - t0) / 1000
        allBack &&= back
        reconnects.push(round(seconds, 2))
        progress(`storm ${cycle}: ${gen.reconnectedSince(mark)} of ${n} reconnected in ${seconds.toFixed(2)} s`)
        await sleep(3000)
      }
      await probe.stop()
      const connectedEnd = (await ctx.target.connectedClients()) ?? gen.connectedCount()
      const end = await finish(ctx, gen)
      // Refused: CONNACK refusals (bad credentials and the like) plus connections the service's limits turned away.
      const refusedConnects = (await ctx.target.stats())?.refusedConnects ?? 0
      const l = end.limits ?? {}
      const refusedByLimits = (l.connect_rate_global ?? 0) + (l.connect_rate_address ?? 0) + (l.connections_per_gateway ?? 0)
      // Publish to queryable over the hold window, as the acknowledgements are; the probes of the
      // first seconds and of the storms (sent while their own gateway was cut off) apart.
      const q = probe.figures(a.t, b.t)
      const qWarm = probe.figures(tStart, a.t)
      const qStorms = probe.figures(b.t)
      const qAll = probe.figures()
      const bySlice = slices.slice(1).map((m, i) => {
        const f = figures(slices[i]!, m, gen)
        const sq = probe.figures(slices[i]!.t, m.t)
        return { fromS: round((slices[i]!.t - a.t) / 1000, 1), ackP99Ms: f.ackP99Ms, queryableP50Ms: sq.queryableP50Ms, queryableP99Ms: sq.queryableP99Ms }
      })
      progress(`hold by slice (from s: ack p99 / queryable p50 / p99 ms): ${bySlice.map((x) => `${x.fromS}: ${x.ackP99Ms}/${x.queryableP50Ms}/${x.queryableP99Ms}`).join(', ')}`)
      progress(`queryable p50/p99 ms: warm-up ${qWarm.queryableP50Ms}/${qWarm.queryableP99Ms} (${qWarm.probes} probes), hold ${q.queryableP50Ms}/${q.queryableP99Ms} (${q.probes}), storms ${qStorms.queryableP50Ms}/${qStorms.queryableP99Ms} (${qStorms.probes}), all ${qAll.queryableP50Ms}/${qAll.queryableP99Ms} (${qAll.probes}; the figure before 2026-12-02)`)
      return {
        core: coreFigures(hold, q, end.lost, n),
        extra: {
          connected: Math.min(connectedHeld, connectedEnd),
          refused: Math.max(refusedConnects, gen.stats().refused) + refusedByLimits,
          reconnectSeconds: reconnects.length > 0 ? Math.max(...reconnects) : null,
          reconnectSecondsByCycle: reconnects,
          allReconnected: allBack,
          connectSeconds: round(conn.seconds, 2),
          settleSeconds: round(settleSeconds, 1),
          drop,
          cycles,
          hashN: o.hashN ?? null,
          rate,
          rssMbBeforeConnect: rssBefore === undefined ? null : Math.round(rssBefore),
          rssMbHeld: rssHeld === undefined ? null : Math.round(rssHeld),
          rssKbPerGateway: rssBefore !== undefined && rssHeld !== undefined ? Math.round(((rssHeld - rssBefore) * 1024) / n) : null,
          maxRssMb,
          rssBounded: (ctx.monitor.peakRssMb() ?? 0) <= maxRssMb,
          queryableTimeouts: q.probeTimeouts,
          queryableWarmupP99Ms: qWarm.queryableP99Ms,
          queryableStormP50Ms: qStorms.queryableP50Ms,
          queryableStormP99Ms: qStorms.queryableP99Ms,
          holdBySlice: bySlice,
          cores: hold.cores,
          influxWrites: hold.influxWrites,
          ...deliveryFields(end),
        },
      }
    } finally {
      await stopLoad(probe, gen)
    }
  })
}

/**
 * Waits (at least 2 s, at most 60 s) until the service keeps up with the load: for two checks in a
 * row, a second apart, less than half a second of messages unwritten in its journal and less than a
 * tenth of a second's unacknowledged at the gateways. Returns the seconds waited.
 */
async function settle(target: BenchTarget, gen: LoadGenerator, rate: number): Promise<number> {
  const t0 = performance.now()
  await sleep(2000)
  let calm = 0
  while (calm < 2 && performance.now() - t0 < 60_000) {
    const backlog = (await target.stats())?.journal.unwrittenRecords
    calm = backlog !== undefined && backlog < rate / 2 && gen.stats().inflight < rate / 10 ? calm + 1 : 0
    if (calm < 2) await sleep(1000)
  }
  return (performance.now() - t0) / 1000
}
