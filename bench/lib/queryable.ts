import { sleep } from './harness.js'
import type { LoadGenerator } from './load-generator.js'
import type { BenchTarget } from './target.js'
import { pct } from './window.js'

interface Probe {
  readonly publishedAt: number
  latencyMs?: number
  timedOut?: boolean
}

/**
 * Publish-to-queryable latency: every `intervalMs` a probe (one sample on
 * signal `probe`, a unique timestamp an hour before the load's base, so it
 * stays out of the loss accounting) goes through the first gateway's
 * connection; one poller asks InfluxDB every `pollMs` for the outstanding
 * probes in one query. A probe not seen within `timeoutMs` counts as a
 * timeout and enters the percentiles as `timeoutMs`.
 */
export class QueryableProbe {
  private readonly probes = new Map<number, Probe>()
  private readonly outstanding = new Set<number>()
  private nextTs: number
  private publisher: NodeJS.Timeout | undefined
  private poller: Promise<void> | undefined
  private running = false
  private where = ''
  errors = 0

  constructor(
    private readonly target: BenchTarget,
    private readonly gen: LoadGenerator,
    private readonly opts: { intervalMs: number; pollMs: number; timeoutMs: number } = { intervalMs: 200, pollMs: 20, timeoutMs: 10_000 },
  ) {
    this.nextTs = gen.base - 3_600_000
  }

  start(): void {
    if (this.running) return
    this.running = true
    this.publisher = setInterval(() => this.publish(), this.opts.intervalMs)
    this.poller = this.poll()
  }

  async stop(): Promise<void> {
    this.running = false
    clearInterval(this.publisher)
    await this.poller
  }

  private publish(): void {
    if (this.probes.size >= 100_000) return
    const ts = this.nextTs++
    const probe: Probe = { publishedAt: performance.now() }
    const tags = this.gen.publishProbe(ts, (err) => {
      if (err) {
        this.errors++
        this.outstanding.delete(ts)
        this.probes.delete(ts)
      }
    })
    if (!tags) return
    this.where = `"signal" = 'probe' AND "zone" = '${tags.zone}' AND "factory" = '${tags.factory}' AND "line" = '${tags.line}' AND "machine" = '${tags.machine}'`
    this.probes.set(ts, probe)
    this.outstanding.add(ts)
  }

  /** Ends at most `timeoutMs` after stop(): every probe is found or times out by then. */
  private async poll(): Promise<void> {
    while (this.running || this.outstanding.size > 0) {
      const now = performance.now()
      for (const ts of this.outstanding) {
        const p = this.probes.get(ts)!
        if (now - p.publishedAt > this.opts.timeoutMs) {
          p.timedOut = true
          this.outstanding.delete(ts)
        }
      }
      if (this.outstanding.size > 0) {
        let lo = Infinity
        let hi = -Infinity
        for (const ts of this.outstanding) {
          lo = Math.min(lo, ts)
          hi = Math.max(hi, ts)
        }
        try {
          const series = await this.target.query(`SELECT "value" FROM "telemetry" WHERE ${this.where} AND time >= ${lo}ms AND time <= ${hi}ms`)
          const seenAt = performance.now()
          for (const row of series[0]?.values ?? []) {
            const ts = row[0] as number
            if (!this.outstanding.has(ts)) continue
            this.outstanding.delete(ts)
            this.probes.get(ts)!.latencyMs = seenAt - this.probes.get(ts)!.publishedAt
          }
        } catch {
          // InfluxDB busy or restarting: try again at the next poll.
        }
      }
      await sleep(this.opts.pollMs)
    }
  }

  /** p50 / p99 (ms) of probes published between t0 and t1 (performance.now()), and how many timed out. */
  figures(t0 = 0, t1 = Infinity): { queryableP50Ms: number | null; queryableP99Ms: number | null; probes: number; probeTimeouts: number } {
    const lat: number[] = []
    let timeouts = 0
    for (const p of this.probes.values()) {
      if (p.publishedAt < t0 || p.publishedAt > t1) continue
      if (p.latencyMs !== undefined) lat.push(p.latencyMs)
      else if (p.timedOut) {
        timeouts++
        lat.push(this.opts.timeoutMs)
      }
    }
    lat.sort((a, b) => a - b)
    return { queryableP50Ms: pct(lat, 0.5), queryableP99Ms: pct(lat, 0.99), probes: lat.length, probeTimeouts: timeouts }
  }
}
