import { HttpError, InfluxDB, setLogger, type WriteApi } from '@influxdata/influxdb-client'
import type { InfluxConfig } from '../../config/config.js'
import { StorageError, type LineWriter } from '../ports.js'
import { authHeaders } from './influx-auth.js'

/**
 * Sends one batch per call through the official client's WriteApi, with the
 * client's own batching and retries turned off: batching, concurrency and
 * retries are ours (the client's `close()` drops in-flight batches and its
 * retry buffer drops the oldest lines; see docs/storage.md). Writing the lines
 * and flushing in the same tick pairs each call with exactly its batch.
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
  const api: WriteApi = influx.getWriteApi(v1 ? '' : config.org!, v1 ? `${config.database}/${config.retentionPolicy}` : config.bucket!, 'ms', {
    // Larger than any batch we send, so the client never sends on its own (it preallocates this many slots).
    batchSize: maxBatchLines + 1,
    maxBatchBytes: Number.MAX_SAFE_INTEGER,
    flushInterval: 0,
    maxRetries: 0,
    // The client gzips bodies above the threshold; off, no body is ever compressed.
    gzipThreshold: config.gzip ? 1000 : Number.MAX_SAFE_INTEGER,
  })
  if (v1) {
    api.path = `/write?db=${encodeURIComponent(config.database)}&rp=${encodeURIComponent(config.retentionPolicy)}&precision=ms`
  }
  return {
    async write(lines) {
      if (lines.length === 0) return
      if (lines.length > maxBatchLines) throw new StorageError(`batch of ${lines.length} lines exceeds ${maxBatchLines}`, false, undefined)
      api.writeRecords(lines as string[])
      try {
        await api.flush()
      } catch (err) {
        throw toStorageError(err)
      }
    },
    async close() {
      await api.close().catch(() => undefined)
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
