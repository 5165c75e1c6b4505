import type { InfluxConfig } from '../../config/config.js'
import { AppError } from '../../errors.js'
import { authHeaders } from './influx-auth.js'

export interface InfluxSeries {
  readonly name: string
  readonly tags?: Record<string, string>
  readonly columns: string[]
  readonly values?: unknown[][]
}

export type BindParams = Record<string, string | number | boolean>

/**
 * InfluxQL over `/query`, which 1.x, 2.x (DBRP mapping; every bucket has a
 * virtual one since 2.4) and 3.x all serve. Values travel only as bind
 * parameters (`$name` in the text, `params=` beside it); identifiers and
 * durations are whitelisted by the callers.
 * Failures are AppErrors (docs/errors.md), with what went wrong as their cause:
 * IIOT_ERR_STORAGE_UNAVAILABLE when InfluxDB cannot answer now (network,
 * timeout, 429, 5xx), IIOT_ERR_STORAGE_QUERY when it refuses the query.
 */
export class InfluxQLClient {
  private readonly headers: Record<string, string>
  private readonly db: string

  constructor(private readonly config: InfluxConfig) {
    // INFLUX_GZIP off (auto: a loopback InfluxDB): answers come uncompressed. fetch asks for gzip by
    // default, and compressing in influxd and inflating here cost both sides CPU for nothing on loopback:
    // a line OEE's three statements took 30-45 % less time with identity (bench/README.md, `api`).
    this.headers = config.gzip ? authHeaders(config) : { ...authHeaders(config), 'Accept-Encoding': 'identity' }
    this.db = config.flavor === 'v2' ? config.bucket! : config.database
  }

  /**
   * Runs one SELECT statement and returns its series (times as epoch ms).
   * /query answers 200 with a per-statement error for things like "database not found".
   */
  async select(query: string, params: BindParams = {}): Promise<InfluxSeries[]> {
    return (await this.selectMany([query], params))[0]!
  }

  /** Runs several SELECT statements in one request; one series list per statement. */
  async selectMany(queries: readonly string[], params: BindParams = {}): Promise<InfluxSeries[][]> {
    const url = new URL('/query', this.config.url)
    url.searchParams.set('db', this.db)
    if (this.config.flavor === 'v1') url.searchParams.set('rp', this.config.retentionPolicy)
    url.searchParams.set('q', queries.join(';\n'))
    url.searchParams.set('epoch', 'ms')
    if (Object.keys(params).length > 0) url.searchParams.set('params', JSON.stringify(params))
    const body = await this.request(url, { method: 'GET' })
    return queries.map((_, i) => {
      const result = body.results?.find((r) => (r as { statement_id?: number }).statement_id === i) ?? body.results?.[i]
      if (result?.error) throw new AppError('IIOT_ERR_STORAGE_QUERY', `InfluxDB query failed: ${result.error}`)
      return result?.series ?? []
    })
  }

  /** Creates the 1.x database if it is missing (idempotent). */
  async ensureDatabase(): Promise<void> {
    if (this.config.flavor !== 'v1') return
    const url = new URL('/query', this.config.url)
    const body = new URLSearchParams({ q: `CREATE DATABASE "${this.config.database}"` })
    const res = await this.request(url, { method: 'POST', body })
    const error = res.results?.[0]?.error
    if (error) throw new AppError('IIOT_ERR_STORAGE_QUERY', `cannot create database ${this.config.database}: ${error}`)
  }

  async ping(timeoutMs = 2000): Promise<boolean> {
    try {
      const res = await fetch(new URL('/ping', this.config.url), { headers: this.headers, signal: AbortSignal.timeout(timeoutMs) })
      await res.arrayBuffer()
      return res.status === 204 || res.status === 200
    } catch {
      return false
    }
  }

  private async request(url: URL, init: RequestInit): Promise<{ results?: { error?: string; series?: InfluxSeries[] }[]; error?: string }> {
    let res: Response
    try {
      res = await fetch(url, { ...init, headers: this.headers, signal: AbortSignal.timeout(this.config.timeoutMs) })
    } catch (cause) {
      throw new AppError('IIOT_ERR_STORAGE_UNAVAILABLE', `InfluxDB unreachable at ${this.config.url}: ${(cause as Error).message}`, { cause })
    }
    const text = await res.text()
    let json: { results?: { error?: string; series?: InfluxSeries[] }[]; error?: string }
    try {
      json = JSON.parse(text)
    } catch (cause) {
      throw new AppError(failureCode(res.status), `InfluxDB answered ${res.status} with a body that is not JSON: ${text.slice(0, 200)}`, { cause })
    }
    if (!res.ok) throw new AppError(failureCode(res.status), `InfluxDB answered ${res.status}: ${json.error ?? text.slice(0, 200)}`)
    return json
  }
}

/** 429 and 5xx: InfluxDB cannot answer now; any other status: it refused the query (bad query, credentials, database). */
function failureCode(status: number): 'IIOT_ERR_STORAGE_UNAVAILABLE' | 'IIOT_ERR_STORAGE_QUERY' {
  return status === 429 || status >= 500 ? 'IIOT_ERR_STORAGE_UNAVAILABLE' : 'IIOT_ERR_STORAGE_QUERY'
}
