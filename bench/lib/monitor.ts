import { progress } from './harness.js'
import type { LoadGenerator } from './load-generator.js'
import { cpuSeconds, memoryMb } from './proc.js'
import type { BenchTarget } from './target.js'

/** One reading: generator counters, the service's journal, and process CPU and memory. */
export interface Reading {
  /** performance.now() */
  readonly t: number
  readonly sent: number
  readonly acked: number
  readonly ackedPoints: number
  readonly inflight: number
  readonly ackLatencyCount: number
  readonly backlog: number | undefined
  readonly pointsWritten: number | undefined
  readonly rssMb: number | undefined
  readonly serviceCpuS: number | undefined
  readonly influxCpuS: number | undefined
  readonly benchCpuS: number
}

/**
 * Samples every `intervalMs` (default 500 ms) and prints a progress line on
 * stderr once a second: acknowledged rate, totals, inflight, journal backlog,
 * service RSS and CPU of the service, InfluxDB and the bench. Keeps every
 * reading (for window figures and backlog trends) and the service's peak RSS
 * (VmHWM, over restarts).
 */
export class Monitor {
  readonly readings: Reading[] = []
  private timer: NodeJS.Timeout | undefined
  private busy = false
  private lastPrint = 0
  private peakMb = 0
  private peakHeap = 0
  private peakExternal = 0
  private lastHeapRead = 0
  private lagMax = 0
  private readonly lagP99s: number[] = []
  private gcLast: number | undefined
  private gcTotal = 0
  private readonly t0 = performance.now()
  private gen: LoadGenerator | undefined

  constructor(
    private readonly target: BenchTarget,
    private label: string,
    private readonly intervalMs = 500,
  ) {}

  setLabel(label: string): void {
    this.label = label
  }

  start(gen: LoadGenerator | undefined): void {
    this.gen = gen
    this.timer ??= setInterval(() => {
      if (this.busy) return
      this.busy = true
      void this.read()
        .then((r) => this.print(r))
        .finally(() => (this.busy = false))
    }, this.intervalMs)
  }

  stop(): void {
    clearInterval(this.timer)
    this.timer = undefined
    this.peakRssMb()
  }

  /** The service's peak resident memory so far (VmHWM of every service process seen). */
  peakRssMb(): number | undefined {
    const m = memoryMb(this.target.servicePid())
    if (m) this.peakMb = Math.max(this.peakMb, m.peak, m.rss)
    return this.peakMb > 0 ? this.peakMb : undefined
  }

  /** Peaks of the service's V8 heap in use and external memory (MB, sampled every 2 s). */
  peakHeapMb(): { heapUsed: number | null; external: number | null } {
    return { heapUsed: this.peakHeap > 0 ? Math.round(this.peakHeap) : null, external: this.peakExternal > 0 ? Math.round(this.peakExternal) : null }
  }

  /**
   * The service's event loop over the run (from /metrics every 2 s): the worst
   * delay seen, the median of the 2-second p99s, and GC pause seconds meanwhile.
   */
  eventLoop(): { lagMaxMs: number | null; lagP99MedianMs: number | null; gcSeconds: number | null } {
    const p99s = [...this.lagP99s].sort((a, b) => a - b)
    return {
      lagMaxMs: this.lagMax > 0 ? Math.round(this.lagMax) : null,
      lagP99MedianMs: p99s.length > 0 ? Math.round(p99s[Math.floor(p99s.length / 2)]!) : null,
      gcSeconds: this.gcLast !== undefined ? Math.round(this.gcTotal * 100) / 100 : null,
    }
  }

  /** A reading now (also stored). */
  async read(): Promise<Reading> {
    const s = this.gen?.stats()
    const stats = await this.target.stats()
    const mem = memoryMb(this.target.servicePid())
    if (mem) this.peakMb = Math.max(this.peakMb, mem.peak, mem.rss)
    const cpu = process.cpuUsage()
    if (performance.now() - this.lastHeapRead >= 2000) {
      // The service's V8 heap and external (Buffer) memory, from its /metrics: where the RSS is.
      this.lastHeapRead = performance.now()
      const m = await this.target.metrics()
      this.peakHeap = Math.max(this.peakHeap, m?.heapUsedMb ?? 0)
      this.peakExternal = Math.max(this.peakExternal, m?.externalMb ?? 0)
      if (m?.eventLoopLagMaxMs !== undefined) this.lagMax = Math.max(this.lagMax, m.eventLoopLagMaxMs)
      if (m?.eventLoopLagP99Ms !== undefined) this.lagP99s.push(m.eventLoopLagP99Ms)
      if (m?.gcSeconds !== undefined) {
        // Summed over restarts: a lower total means a new process, counting from 0.
        if (this.gcLast !== undefined) this.gcTotal += m.gcSeconds >= this.gcLast ? m.gcSeconds - this.gcLast : m.gcSeconds
        this.gcLast = m.gcSeconds
      }
    }
    const r: Reading = {
      t: performance.now(),
      sent: s?.sent ?? 0,
      acked: s?.acked ?? 0,
      ackedPoints: s?.ackedPoints ?? 0,
      inflight: s?.inflight ?? 0,
      ackLatencyCount: this.gen?.ackLatencies().length ?? 0,
      backlog: stats?.journal.unwrittenRecords,
      pointsWritten: stats?.pointsWritten,
      rssMb: mem?.rss,
      serviceCpuS: cpuSeconds(this.target.servicePid()),
      influxCpuS: cpuSeconds(this.target.influxPid()),
      benchCpuS: (cpu.user + cpu.system) / 1e6,
    }
    this.readings.push(r)
    if (this.readings.length > 20_000) this.readings.splice(0, 10_000)
    return r
  }

  private print(r: Reading): void {
    if (r.t - this.lastPrint < 950) return
    const prev = [...this.readings].reverse().find((x) => r.t - x.t >= 900 && x !== r)
    this.lastPrint = r.t
    const dt = prev ? (r.t - prev.t) / 1000 : 1
    const rate = prev ? (r.acked - prev.acked) / dt : 0
    const pts = prev ? (r.ackedPoints - prev.ackedPoints) / dt : 0
    const pct = (a: number | undefined, b: number | undefined) => (a !== undefined && b !== undefined ? `${Math.round(((a - b) / dt) * 100)}%` : '?')
    progress(
      `${this.label} ${((r.t - this.t0) / 1000).toFixed(0)}s  rate ${Math.round(rate)} msg/s (${Math.round(pts)} pts/s)  acked ${r.acked}  inflight ${r.inflight}  backlog ${r.backlog ?? '?'}  rss ${r.rssMb !== undefined ? Math.round(r.rssMb) : '?'} MB  cpu service ${pct(r.serviceCpuS, prev?.serviceCpuS)} influxd ${pct(r.influxCpuS, prev?.influxCpuS)} bench ${pct(r.benchCpuS, prev?.benchCpuS)}`,
    )
  }

  /** Readings taken between t0 and t1 (performance.now()). */
  between(t0: number, t1: number): Reading[] {
    return this.readings.filter((r) => r.t >= t0 && r.t <= t1)
  }
}

/** Least-squares slope of y over t (per second); 0 with fewer than 2 points. */
export function slopePerSecond(points: readonly { t: number; y: number }[]): number {
  const n = points.length
  if (n < 2) return 0
  let st = 0
  let sy = 0
  for (const p of points) {
    st += p.t
    sy += p.y
  }
  const mt = st / n
  const my = sy / n
  let num = 0
  let den = 0
  for (const p of points) {
    num += (p.t - mt) * (p.y - my)
    den += (p.t - mt) ** 2
  }
  return den === 0 ? 0 : (num / den) * 1000
}
