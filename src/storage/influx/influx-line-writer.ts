import { HttpError, InfluxDB, setLogger } from '@influxdata/influxdb-client'
import type { InfluxConfig } from '../../config/config.js'
import { isWhole } from '../../spool/line-bodies.js'
import { StorageError, type LineWriter } from '../ports.js'
import { authHeaders } from './influx-auth.js'

/**
 * Sends one batch per call through the official client's transport (`InfluxDB.transport`), which
 * carries the client's authentication (Basic for 1.x, Token for 2.x), timeouts and gzip. Not its
 * WriteApi: batching, concurrency and retries are ours (its `close()` drops in-flight batches and
 * its retry buffer drops the oldest lines; see docs/storage.md), and its per-record byte count runs a
 * JavaScript loop over every character of the body, about a tenth of the main thread's busy time at
 * 90k points/s (docs/decisions.md). The write endpoints are the ones WriteApi uses: `/write` for
 * 1.x, `/api/v2/write` for 2.x and 3.x.
 */
// The client logs every failed write to the console; the drainer reports failures itself, through pino.
setLogger({ error: () => undefined, warn: () => undefined })

export function createInfluxLineWriter(config: InfluxConfig, maxBatchLines: number): LineWriter & { close(): Promise<void> } {
  const v1 = config.flavor === 'v1'
  const influx = new InfluxDB({
    url: config.url,
    timeout: config.timeoutMs,
    // 1.6/1.7 refuse `Authorization: Token`: send Basic credentials through headers instead.
    ...(v1 ? { headers: authHeaders(config) } : { token: config.token! }),
  })
  const path = v1
    ? `/write?db=${encodeURIComponent(config.database)}&rp=${encodeURIComponent(config.retentionPolicy)}&precision=ms`
    : `/api/v2/write?org=${encodeURIComponent(config.org!)}&bucket=${encodeURIComponent(config.bucket!)}&precision=ms`
  const options = {
    method: 'POST',
    headers: { 'content-type': 'text/plain; charset=utf-8' },
    // The transport gzips bodies above the threshold; off, no body is ever compressed.
    gzipThreshold: config.gzip ? 1000 : Number.MAX_SAFE_INTEGER,
  }
  // `request()` would send a Buffer as its JSON; `send()` hands the body to `Buffer.from(body,
  // 'utf-8')`, which takes bytes as they are (typed string): the line protocol never becomes a
  // string here (drainer.ts). Given a Buffer, that call copies it; given an ArrayBuffer, it wraps
  // it (the encoding reads as offset 0). A body that is its whole ArrayBuffer (as the drainer's
  // are) goes as that: one copy of every request's bytes fewer, which V8 counted as external
  // memory to collect for (docs/decisions.md, "Line protocol as bytes").
  const send = (body: Buffer) =>
    new Promise<void>((resolve, reject) => {
      influx.transport.send(path, (isWhole(body) ? body.buffer : body) as unknown as string, options, { next: () => undefined, error: reject, complete: () => resolve() })
    })
  let pending = 0
  let idle: (() => void) | undefined
  return {
    async write(body, lineCount) {
      if (body.length === 0) return
      if (lineCount > maxBatchLines) throw new StorageError(`batch of ${lineCount} lines exceeds ${maxBatchLines}`, false, undefined)
      pending++
      try {
        await send(body)
      } catch (err) {
        throw toStorageError(err)
      } finally {
        if (--pending === 0) idle?.()
      }
    },
    async close() {
      // What is in flight finishes (or fails) on its own; nothing is buffered here.
      if (pending > 0) await new Promise<void>((resolve) => (idle = resolve))
    },
  }
}

/**
 * Not retriable only when InfluxDB refuses the data itself (400 parse error or
 * partial write, 413 too large, 422 unprocessable): the batch is then split to
 * isolate the bad points. Everything else is retried: network errors,
 * timeouts, 429, 5xx, and also 401/403/404 (credentials or a missing database
 * are an operator's to fix; the data must wait, not be dropped).
 */
const BAD_DATA_STATUSES: ReadonlySet<number> = new Set([400, 413, 422])

export function toStorageError(err: unknown): StorageError {
  if (err instanceof HttpError) {
    const detail = typeof err.json?.error === 'string' ? err.json.error : err.body ?? err.message
    return new StorageError(`InfluxDB answered ${err.statusCode}: ${detail}`, !BAD_DATA_STATUSES.has(err.statusCode), err.statusCode, { cause: err })
  }
  return new StorageError(`InfluxDB unreachable: ${(err as Error)?.message ?? String(err)}`, true, undefined, { cause: err })
}
