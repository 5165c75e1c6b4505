import { sleep } from './harness.js'
import type { LoadGenerator } from './load-generator.js'
import type { BenchTarget } from './target.js'
import { pct } from './window.js'

interface Probe {
  readonly publishedAt: number
  latencyMs?: number
  timedOut?: boolean
  /** When the gateway had its acknowledgement (QoS 1; for QoS 0, when it was written). */
  ackedAt?: number
  /** When it arrived on the API's live stream. */
  liveAt?: number
}

/**
 * Publish-to-queryable latency: every `intervalMs` a probe (one sample on
 * signal `probe`, a unique timestamp an hour before the load's base, so it
 * stays out of the loss accounting) goes through the first gateway's
 * connection; one poller asks InfluxDB every `pollMs` for the outstanding
 * probes in one query. A probe not seen within `timeoutMs` counts as a
 * timeout and enters the percentiles as `timeoutMs`.
 *
 * Acknowledgement-to-live latency (`live`): the same probes are watched for on
 * the API's live stream (one SSE connection, filtered to the probe's machine):
 * the time from a probe's acknowledgement at the gateway to its event, which
 * is when the live machine table and every stream client know it. Off by
 * default: a connected stream client makes the service serialize every
 * accepted message for resumption, a cost the other figures should not carry.
 */
export class QueryableProbe {
  private readonly probes = new Map<number, Probe>()
  private readonly outstanding = new Set<number>()
  private nextTs: number
  private publisher: NodeJS.Timeout | undefined
  private poller: Promise<void> | undefined
  private running = false
  private where = ''
  private stream: AbortController | undefined
  private streamDone: Promise<void> | undefined
  errors = 0

  constructor(
    private readonly target: BenchTarget,
    private readonly gen: LoadGenerator,
    private readonly opts: { intervalMs: number; pollMs: number; timeoutMs: number; live?: boolean } = { intervalMs: 200, pollMs: 20, timeoutMs: 10_000 },
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
    this.stream?.abort()
    await this.streamDone
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
      } else probe.ackedAt = performance.now()
    })
    if (!tags) return
    if (this.opts.live && !this.stream) this.watchStream(tags)
    this.where = `"signal" = 'probe' AND "zone" = '${tags.zone}' AND "factory" = '${tags.factory}' AND "line" = '${tags.line}' AND "machine" = '${tags.machine}'`
    this.probes.set(ts, probe)
    this.outstanding.add(ts)
  }

  /** Follows the live stream of the probe's machine, noting when each probe's event arrives. */
  private watchStream(tags: { factory: string; line: string; machine: string }): void {
    const controller = (this.stream = new AbortController())
    const url = `${this.target.httpUrl}/api/v1/stream?kinds=telemetry&factory=${tags.factory}&line=${tags.line}&machine=${tags.machine}`
    this.streamDone = (async () => {
      try {
        const res = await fetch(url, { headers: { authorization: `Bearer ${this.target.apiKey}` }, signal: controller.signal })
        const reader = res.body!.getReader()
        const decoder = new TextDecoder()
        let text = ''
        for (;;) {
          const { value, done } = await reader.read()
          if (done) return
          const at = performance.now()
          text += decoder.decode(value, { stream: true })
          let end
          while ((end = text.indexOf('\n\n')) >= 0) {
            const block = text.slice(0, end)
            text = text.slice(end + 2)
            // The load's own events far outnumber the probes: parse only those that name the probe signal.
            if (!block.includes('"probe"')) continue
            const data = block.slice(block.indexOf('data: ') + 6)
            const message = (JSON.parse(data) as { message?: { samples?: { signal: string; tsMs: number }[] } }).message
            for (const sample of message?.samples ?? []) {
              const p = sample.signal === 'probe' ? this.probes.get(sample.tsMs) : undefined
              if (p && p.liveAt === undefined) p.liveAt = at
            }
          }
        }
      } catch {
        // Aborted at stop(), or the service went away: probes not seen count as missing.
      }
    })()
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
  figures(t0 = 0, t1 = Infinity): { queryableP50Ms: number | null; queryableP99Ms: number | null; probes: number; probeTimeouts: number; liveP50Ms: number | null; liveP99Ms: number | null; liveMissing: number | null } {
    const lat: number[] = []
    const live: number[] = []
    let liveMissing = 0
    let timeouts = 0
    for (const p of this.probes.values()) {
      if (p.publishedAt < t0 || p.publishedAt > t1) continue
      // The stream and the acknowledgement travel on two sockets: an event may land first (0 then).
      if (p.ackedAt !== undefined && p.liveAt !== undefined) live.push(Math.max(0, p.liveAt - p.ackedAt))
      else if (p.ackedAt !== undefined) liveMissing++ // (reported only when the stream is watched)
      if (p.latencyMs !== undefined) lat.push(p.latencyMs)
      else if (p.timedOut) {
        timeouts++
        lat.push(this.opts.timeoutMs)
      }
    }
    lat.sort((a, b) => a - b)
    live.sort((a, b) => a - b)
    return { queryableP50Ms: pct(lat, 0.5), queryableP99Ms: pct(lat, 0.99), probes: lat.length, probeTimeouts: timeouts, liveP50Ms: pct(live, 0.5), liveP99Ms: pct(live, 0.99), liveMissing: this.opts.live ? liveMissing : null }
  }
}
