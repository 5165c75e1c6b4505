import { progress, sleep, waitFor } from './lib/harness.js'
import { extraNum, parseBenchOptions } from './lib/options.js'
import { memoryMb } from './lib/proc.js'
import { QueryableProbe } from './lib/queryable.js'
import { finish, deliveryFields } from './lib/search.js'
import { coreFigures, loadGenerator, runSession, stopLoad } from './lib/session.js'
import { figures, markWithInflux, round } from './lib/window.js'
import type { BenchResult } from './scenario.js'

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
  const o = parseBenchOptions(argv, { gateways: 2000, machines: 1, samples: 10, qos: 1, durationS: 20, hashN: 1024, window: 20 }, {
    cycles: { type: 'string' },
    drop: { type: 'string' },
    'connect-concurrency': { type: 'string' },
    'max-rss': { type: 'string' },
  })
  const cycles = extraNum(o, 'cycles', 2, 0, 20)
  const drop = (o.extra.drop as string | undefined) ?? 'sockets'
  if (drop !== 'sockets' && drop !== 'restart') throw new Error('--drop must be sockets or restart')
  if (drop === 'restart' && o.target) throw new Error('--drop restart needs the self-contained target (the bench restarts the service)')
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
      ctx.monitor.setLabel(`holding ${n} gateways:`)
      await sleep(2000)
      const a = await markWithInflux(gen, ctx.target)
      await sleep(o.durationS * 1000)
      const b = await markWithInflux(gen, ctx.target)
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
      const q = probe.figures()
      return {
        core: coreFigures(hold, q, end.lost, n),
        extra: {
          connected: Math.min(connectedHeld, connectedEnd),
          refused: Math.max(refusedConnects, gen.stats().refused) + refusedByLimits,
          reconnectSeconds: reconnects.length > 0 ? Math.max(...reconnects) : null,
          reconnectSecondsByCycle: reconnects,
          allReconnected: allBack,
          connectSeconds: round(conn.seconds, 2),
          drop,
          cycles,
          hashN: o.hashN ?? null,
          rate,
          rssMbBeforeConnect: rssBefore === undefined ? null : Math.round(rssBefore),
          rssMbHeld: rssHeld === undefined ? null : Math.round(rssHeld),
          rssKbPerGateway: rssBefore !== undefined && rssHeld !== undefined ? Math.round(((rssHeld - rssBefore) * 1024) / n) : null,
          maxRssMb,
          rssBounded: (ctx.monitor.peakRssMb() ?? 0) <= maxRssMb,
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
