import type { LoadGenerator } from './load-generator.js'
import { cpuSeconds } from './proc.js'
import { influxWriteVars, type BenchTarget, type InfluxWriteVars } from './target.js'

/** A point in time of a run: generator counters and process CPU, read synchronously. */
export interface Mark {
  readonly t: number
  readonly sent: number
  readonly acked: number
  readonly ackedPoints: number
  readonly latIndex: number
  readonly lateIndex: number
  readonly serviceCpuS: number | undefined
  readonly influxCpuS: number | undefined
  readonly benchCpuS: number
  /** InfluxDB's write counters, when read (markWithInflux). */
  readonly influx?: InfluxWriteVars | undefined
  /** The service's acknowledgement histogram, when read (markWithInflux). */
  readonly ackBuckets?: readonly (readonly [number, number])[] | undefined
}

/** mark() plus InfluxDB's write counters (one HTTP request to /debug/vars). */
export async function markWithInflux(gen: LoadGenerator, target: BenchTarget): Promise<Mark> {
  const [influx, metrics] = await Promise.all([influxWriteVars(target.influxUrl), target.metrics()])
  return { ...mark(gen, target), influx, ackBuckets: metrics?.ackBuckets }
}

export function mark(gen: LoadGenerator, target: BenchTarget): Mark {
  const s = gen.stats()
  const cpu = process.cpuUsage()
  return {
    t: performance.now(),
    sent: s.sent,
    acked: s.acked,
    ackedPoints: s.ackedPoints,
    latIndex: gen.ackLatencies().length,
    lateIndex: gen.tickLateness().length,
    serviceCpuS: cpuSeconds(target.servicePid()),
    influxCpuS: cpuSeconds(target.influxPid()),
    benchCpuS: (cpu.user + cpu.system) / 1e6,
  }
}

/** Figures of the interval between two marks. */
export interface WindowFigures {
  readonly seconds: number
  readonly sentPerSec: number
  readonly messagesPerSec: number
  readonly pointsPerSec: number
  readonly ackP50Ms: number | null
  readonly ackP99Ms: number | null
  readonly ackP999Ms: number | null
  /** CPU seconds per million acknowledged points: the service, InfluxDB, and the bench process (generator). */
  readonly cpuSecondsPerMillionPoints: number | null
  readonly influxCpuSecondsPerMillionPoints: number | null
  readonly benchCpuSecondsPerMillionPoints: number | null
  /** The writes InfluxDB received in the window (all writers): per second, points and bytes per request, ms per request. */
  readonly influxWrites: { readonly requestsPerSec: number; readonly pointsPerRequest: number | null; readonly bytesPerPoint: number | null; readonly msPerRequest: number | null } | null
  /**
   * The acknowledgement as the service itself times it (from a publish reaching its authorize hook
   * to its journal record being durable), from its histogram: the gateway-side figures add the
   * sockets, the service's event loop before the hook, and the generator's own event loop.
   */
  readonly serviceAck: ServiceAck | null
  /**
   * p99 and maximum of how late the generator's paced ticks ran (ms): its own event loop's delay,
   * which a PUBACK waits out before the generator reads it. Null in a closed loop (no paced ticks).
   */
  readonly generatorLag: { readonly p99Ms: number | null; readonly maxMs: number | null } | null
  /** Cores busy on average over the window. */
  readonly cores: { readonly service: number | null; readonly influxd: number | null; readonly bench: number }
}

export interface ServiceAck {
  readonly count: number
  /** The upper bound (ms) of the histogram bucket the 99th percentile falls in. */
  readonly p99AtMostMs: number | null
  readonly shareOver10Ms: number
}

/** The window's share of the service's acknowledgement histogram (cumulative buckets, ms). */
export function serviceAck(a: Mark['ackBuckets'], b: Mark['ackBuckets']): ServiceAck | null {
  if (!a || !b || a.length !== b.length || b.length === 0) return null
  const diff = b.map(([le, n], i) => [le, n - a[i]![1]] as const)
  const total = diff.at(-1)![1]
  if (total <= 0) return null
  const within10 = diff.find(([le]) => le >= 10)?.[1] ?? total
  const p99 = diff.find(([, n]) => n >= 0.99 * total)![0]
  return { count: total, p99AtMostMs: p99 === Infinity ? null : p99, shareOver10Ms: round(1 - within10 / total, 4) }
}

export function figures(a: Mark, b: Mark, gen: LoadGenerator): WindowFigures {
  const seconds = Math.max(1e-3, (b.t - a.t) / 1000)
  const points = b.ackedPoints - a.ackedPoints
  const lat = gen.ackLatencies().slice(a.latIndex, b.latIndex).sort((x, y) => x - y)
  const perMillion = (x: number | undefined, y: number | undefined) => (x === undefined || y === undefined || points <= 0 ? null : round(((y - x) / points) * 1e6, 3))
  const cores = (x: number | undefined, y: number | undefined) => (x === undefined || y === undefined ? null : round((y - x) / seconds, 2))
  return {
    seconds: round(seconds, 2),
    sentPerSec: Math.round((b.sent - a.sent) / seconds),
    messagesPerSec: Math.round((b.acked - a.acked) / seconds),
    pointsPerSec: Math.round(points / seconds),
    ackP50Ms: pct(lat, 0.5),
    ackP99Ms: pct(lat, 0.99),
    ackP999Ms: pct(lat, 0.999),
    cpuSecondsPerMillionPoints: perMillion(a.serviceCpuS, b.serviceCpuS),
    influxCpuSecondsPerMillionPoints: perMillion(a.influxCpuS, b.influxCpuS),
    benchCpuSecondsPerMillionPoints: perMillion(a.benchCpuS, b.benchCpuS),
    influxWrites: influxWrites(a.influx, b.influx, seconds),
    serviceAck: serviceAck(a.ackBuckets, b.ackBuckets),
    generatorLag: lateness(gen.tickLateness().slice(a.lateIndex, b.lateIndex)),
    cores: { service: cores(a.serviceCpuS, b.serviceCpuS), influxd: cores(a.influxCpuS, b.influxCpuS), bench: round((b.benchCpuS - a.benchCpuS) / seconds, 2) },
  }
}

function lateness(late: number[]): WindowFigures['generatorLag'] {
  if (late.length === 0) return null
  late.sort((x, y) => x - y)
  return { p99Ms: pct(late, 0.99), maxMs: round(late.at(-1)!, 2) }
}

function influxWrites(a: InfluxWriteVars | undefined, b: InfluxWriteVars | undefined, seconds: number): WindowFigures['influxWrites'] {
  if (!a || !b) return null
  const req = b.writeReq - a.writeReq
  const points = b.pointsWrittenOK - a.pointsWrittenOK
  return {
    requestsPerSec: round(req / seconds, 1),
    pointsPerRequest: req > 0 ? Math.round(points / req) : null,
    bytesPerPoint: points > 0 ? round((b.writeReqBytes - a.writeReqBytes) / points, 1) : null,
    msPerRequest: req > 0 ? round((b.writeReqDurationNs - a.writeReqDurationNs) / req / 1e6, 2) : null,
  }
}

/** The p-quantile of sorted values (nearest rank), rounded to 0.01; null when empty. */
export function pct(sorted: readonly number[], p: number): number | null {
  if (sorted.length === 0) return null
  return round(sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))]!, 2)
}

export function round(x: number, digits = 2): number {
  const f = 10 ** digits
  return Math.round(x * f) / f
}
