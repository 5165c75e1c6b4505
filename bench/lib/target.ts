import { readFile } from 'node:fs/promises'
import { startTarget, type Target } from './harness.js'
import type { LoadGateway } from './load-generator.js'
import { findPid, pidMatches } from './proc.js'

export type Series = { tags?: Record<string, string>; values?: unknown[][] }[]

/** InfluxDB's own HTTP write counters (/debug/vars, `httpd`): how the service's writes look from the database. */
export interface InfluxWriteVars {
  readonly writeReq: number
  readonly pointsWrittenOK: number
  readonly writeReqBytes: number
  readonly writeReqDurationNs: number
}

export async function influxWriteVars(influxUrl: string): Promise<InfluxWriteVars | undefined> {
  try {
    const res = await fetch(`${influxUrl}/debug/vars${influxAuth().replace(/^&/, '?')}`, { signal: AbortSignal.timeout(3000) })
    const vars = (await res.json()) as Record<string, { name?: string; values?: Record<string, number> }>
    const sum = { writeReq: 0, pointsWrittenOK: 0, writeReqBytes: 0, writeReqDurationNs: 0 }
    for (const v of Object.values(vars)) {
      if (v?.name !== 'httpd' || !v.values) continue
      for (const k of Object.keys(sum) as (keyof typeof sum)[]) sum[k] += v.values[k] ?? 0
    }
    return sum
  } catch {
    return undefined
  }
}

/** What the bench reads from the service's /metrics. */
export interface ServiceMetrics {
  readonly connectedClients: number | undefined
  /** iiot_mqtt_limit_total by limit */
  readonly limits: Record<string, number>
  readonly heapUsedMb: number | undefined
  readonly externalMb: number | undefined
  /** Event-loop delay since the previous scrape (prom-client resets it per scrape), ms. */
  readonly eventLoopLagP99Ms: number | undefined
  readonly eventLoopLagMaxMs: number | undefined
  /** Total GC pause seconds since the service started (all kinds). */
  readonly gcSeconds: number | undefined
  /** iiot_ack_latency_seconds, cumulative counts by bucket upper bound in ms (Infinity last): the service's own view of the acknowledgement. */
  readonly ackBuckets: readonly (readonly [number, number])[]
}

export interface IngestStats {
  readonly received: number
  readonly qos0Dropped: number
  readonly refusedConnects: number
  readonly pointsWritten: number
  readonly journal: { readonly unwrittenRecords: number; readonly unwrittenBytes: number; readonly full: boolean }
}

/**
 * What a scenario drives: the service's MQTT and HTTP endpoints, the
 * InfluxDB behind it, the gateways' credentials, and (when local) the
 * processes to measure. Self-contained (a throwaway influxd and service) or
 * an existing deployment.
 */
export interface BenchTarget {
  readonly mqttUrl: string
  readonly httpUrl: string
  readonly apiKey: string
  readonly influxUrl: string
  readonly database: string
  readonly gateways: readonly LoadGateway[]
  /** The self-contained target (influxd and service processes), when the bench started them. */
  readonly local: Target | undefined
  servicePid(): number | undefined
  influxPid(): number | undefined
  /** InfluxQL against `database` (or `db`), epoch ms. */
  query(q: string, db?: string): Promise<Series>
  /** The service's ingest counters (GET /api/v1/ingest/stats); undefined when it does not answer within 3 s. */
  stats(): Promise<IngestStats | undefined>
  /** GET /readyz: whether it answered 200 within `timeoutMs`, and how long it took. */
  ready(timeoutMs: number): Promise<{ ok: boolean; ms: number }>
  /** From the service's /metrics: connected clients, and MQTT limits that fired (iiot_mqtt_limit_total by limit). */
  metrics(): Promise<ServiceMetrics | undefined>
  /** The service's connected-clients gauge from /metrics. */
  connectedClients(): Promise<number | undefined>
  dispose(): Promise<void>
}

export interface TargetOptions {
  readonly gateways: number
  readonly machines: number
  readonly hashN?: number | undefined
  readonly env?: Record<string, string>
  readonly nodeArgs?: readonly string[]
  /** External deployment: API base URL (http://host:port). */
  readonly target?: string | undefined
  readonly mqtt?: string | undefined
  readonly apiKey?: string | undefined
  /** Simulator credentials JSON (`npm run registry -- demo --credentials FILE`). */
  readonly credentials?: string | undefined
  readonly servicePid?: number | undefined
}

/** Adds InfluxDB 1.x credentials (INFLUX_USERNAME / INFLUX_PASSWORD) to a query string. */
function influxAuth(): string {
  const u = process.env.INFLUX_USERNAME
  const p = process.env.INFLUX_PASSWORD
  return u && p ? `&u=${encodeURIComponent(u)}&p=${encodeURIComponent(p)}` : ''
}

export function influxWriteUrl(influxUrl: string, db: string): string {
  return `${influxUrl}/write?db=${encodeURIComponent(db)}&precision=ms${influxAuth()}`
}

export async function influxQuery(influxUrl: string, db: string, q: string, timeoutMs = 120_000): Promise<Series> {
  const res = await fetch(`${influxUrl}/query?db=${encodeURIComponent(db)}&epoch=ms${influxAuth()}`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: `q=${encodeURIComponent(q)}`,
    signal: AbortSignal.timeout(timeoutMs),
  })
  const body = (await res.json()) as { error?: string; results?: { error?: string; series?: Series }[] }
  const err = body.error ?? body.results?.[0]?.error
  if (err) throw new Error(`InfluxDB: ${err} (query: ${q.slice(0, 200)})`)
  return body.results?.[0]?.series ?? []
}

export async function openTarget(o: TargetOptions): Promise<BenchTarget> {
  if (o.target) return externalTarget(o)
  const local = await startTarget({ gateways: o.gateways, machinesPerGateway: o.machines, env: o.env ?? {}, nodeArgs: o.nodeArgs ?? [], ...(o.hashN !== undefined ? { hashN: o.hashN } : {}) })
  const dataDir = local.influxd.dataDir
  let influxPid: number | undefined
  return common({
    mqttUrl: local.mqttUrl,
    httpUrl: local.httpUrl,
    apiKey: local.apiKey,
    influxUrl: local.influxd.url,
    database: local.database,
    gateways: local.gateways,
    local,
    servicePid: () => local.service.pid,
    influxPid: () => {
      if (influxPid === undefined || !pidMatches(influxPid, ['influxd', dataDir])) influxPid = findPid(['influxd', dataDir])
      return influxPid
    },
    dispose: () => local.dispose(),
  })
}

async function externalTarget(o: TargetOptions): Promise<BenchTarget> {
  const need = (v: string | undefined, what: string) => {
    if (!v) throw new Error(`--target drives an existing deployment and needs ${what}`)
    return v
  }
  const influxUrl = need(process.env.INFLUX_URL, 'INFLUX_URL (its InfluxDB, e.g. http://127.0.0.1:8086)').replace(/\/+$/, '')
  const creds = JSON.parse(await readFile(need(o.credentials, '--credentials FILE (gateway secrets, as written by `npm run registry -- demo --credentials FILE`)'), 'utf8')) as {
    gateways: { id: string; secret: string; zone: string; factory: string; lines: { id: string; machines: { id: string }[] }[] }[]
  }
  const gateways = creds.gateways.slice(0, o.gateways).map((g) => ({
    id: g.id,
    secret: g.secret,
    zone: g.zone,
    factory: g.factory,
    machines: g.lines.flatMap((l) => l.machines.map((m) => ({ line: l.id, machine: m.id }))).slice(0, o.machines),
  }))
  if (gateways.length === 0) throw new Error('the credentials file names no gateways')
  return common({
    mqttUrl: need(o.mqtt, '--mqtt mqtt://host:port'),
    httpUrl: o.target!.replace(/\/+$/, ''),
    apiKey: need(o.apiKey ?? process.env.BENCH_API_KEY, '--api-key KEY (or BENCH_API_KEY; scope "all")'),
    influxUrl,
    database: process.env.INFLUX_DATABASE ?? 'iiot',
    gateways,
    local: undefined,
    servicePid: () => o.servicePid,
    influxPid: () => undefined,
    dispose: async () => undefined,
  })
}

function common(t: Omit<BenchTarget, 'query' | 'stats' | 'ready' | 'metrics' | 'connectedClients' | 'servicePid' | 'influxPid'> & { servicePid: () => number | undefined; influxPid: () => number | undefined }): BenchTarget {
  const auth = { authorization: `Bearer ${t.apiKey}` }
  return {
    ...t,
    query: (q, db) => influxQuery(t.influxUrl, db ?? t.database, q),
    async stats() {
      try {
        const res = await fetch(`${t.httpUrl}/api/v1/ingest/stats`, { headers: auth, signal: AbortSignal.timeout(3000) })
        if (!res.ok) return undefined
        const b = (await res.json()) as {
          received: Record<string, number>
          refused: Record<string, number>
          points: { written: number }
          qos0Dropped: number
          journal: { unwrittenRecords: number; unwrittenBytes: number; full: boolean }
        }
        const sum = (r: Record<string, number>, prefix = '') => Object.entries(r).reduce((a, [k, v]) => (k.startsWith(prefix) ? a + v : a), 0)
        return { received: sum(b.received), qos0Dropped: b.qos0Dropped, refusedConnects: sum(b.refused, 'connect:'), pointsWritten: b.points.written, journal: b.journal }
      } catch {
        return undefined
      }
    },
    async ready(timeoutMs) {
      const t0 = performance.now()
      const ok = await fetch(`${t.httpUrl}/readyz`, { signal: AbortSignal.timeout(timeoutMs) }).then(
        async (r) => {
          await r.arrayBuffer()
          return r.status === 200
        },
        () => false,
      )
      return { ok, ms: performance.now() - t0 }
    },
    async metrics() {
      try {
        const text = await (await fetch(`${t.httpUrl}/metrics`, { signal: AbortSignal.timeout(3000) })).text()
        const m = /^iiot_mqtt_clients_connected (\d+)/m.exec(text)
        const limits: Record<string, number> = {}
        for (const l of text.matchAll(/^iiot_mqtt_limit_total\{limit="([^"]+)"\} (\d+)/gm)) limits[l[1]!] = Number(l[2])
        const value = (name: string, scale: number) => {
          const v = new RegExp(`^iiot_nodejs_${name} (\\S+)`, 'm').exec(text)?.[1]
          return v === undefined || !Number.isFinite(Number(v)) ? undefined : Number(v) * scale
        }
        let gc: number | undefined
        for (const g of text.matchAll(/^iiot_nodejs_gc_duration_seconds_sum\{[^}]*\} (\S+)/gm)) gc = (gc ?? 0) + Number(g[1])
        const ackBuckets: [number, number][] = []
        for (const b of text.matchAll(/^iiot_ack_latency_seconds_bucket\{le="([^"]+)"\} (\S+)/gm)) ackBuckets.push([b[1] === '+Inf' ? Infinity : Number(b[1]) * 1000, Number(b[2])])
        return {
          connectedClients: m ? Number(m[1]) : undefined,
          limits,
          heapUsedMb: value('heap_size_used_bytes', 1 / 1048576),
          externalMb: value('external_memory_bytes', 1 / 1048576),
          eventLoopLagP99Ms: lagBeyondInterval(value('eventloop_lag_p99_seconds', 1000)),
          eventLoopLagMaxMs: lagBeyondInterval(value('eventloop_lag_max_seconds', 1000)),
          gcSeconds: gc,
          ackBuckets,
        }
      } catch {
        return undefined
      }
    },
    async connectedClients() {
      return (await this.metrics())?.connectedClients
    },
    servicePid: t.servicePid,
    influxPid: t.influxPid,
  }
}

/**
 * prom-client's event-loop figures are of a histogram of its monitor's timer intervals
 * (`monitorEventLoopDelay`, every 10 ms unless `eventLoopMonitoringPrecision` says otherwise, and
 * the service keeps the default): an idle loop reads 10 ms. The delay is what lies beyond that.
 */
const LAG_MONITOR_INTERVAL_MS = 10

function lagBeyondInterval(ms: number | undefined): number | undefined {
  return ms === undefined ? undefined : Math.max(0, ms - LAG_MONITOR_INTERVAL_MS)
}
