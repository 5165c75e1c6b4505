import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client'

/** Seconds; 15 and 20 ms split the tail a shared two-core machine shows at half load (bench/README.md). */
export const ACK_LATENCY_BUCKETS: readonly number[] = [0.0005, 0.001, 0.002, 0.005, 0.01, 0.015, 0.02, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 5]

/** All Prometheus metrics of the service, on one registry (served at /metrics). */
export function createMetrics() {
  const registry = new Registry()
  collectDefaultMetrics({ register: registry, prefix: 'iiot_' })
  const counter = <L extends string>(name: string, help: string, labelNames: readonly L[] = []) => new Counter<L>({ name, help, labelNames, registers: [registry] })
  return {
    registry,
    received: hotCounter(registry, 'iiot_messages_received_total', 'MQTT messages received under iiot/v1, by kind', 'kind'),
    accepted: hotCounter(registry, 'iiot_messages_accepted_total', 'messages decoded from the journal, validated and mapped to points, by kind', 'kind'),
    rejected: counter('iiot_messages_rejected_total', 'messages rejected, by reason', ['reason']),
    refused: counter('iiot_mqtt_refused_total', 'MQTT operations refused: connect (bad credentials), publish or subscribe (ACL)', ['operation', 'reason']),
    pointsQueued: hotCounter(registry, 'iiot_points_queued_total', 'points of accepted messages, handed to the writer'),
    qos0Dropped: counter('iiot_qos0_dropped_total', 'QoS 0 messages dropped because the journal was full'),
    listenerErrors: counter('iiot_listener_errors_total', 'accepted-message listeners (live stream) that threw, by listener; the publisher is not affected', ['listener']),
    materialWarnings: counter('iiot_material_warnings_total', 'material movements stored with a warning (docs/materials.md), by warning', ['warning']),
    fastPathDivergences: counter('iiot_fast_path_divergences_total', 'telemetry the fast path accepted and the reference path rejects (journaled as the fast path wrote it; its live event carries the lines)'),
    ackLatency: hotHistogram(registry, 'iiot_ack_latency_seconds', 'from receiving a QoS 1 publish to its outcome being durable (the PUBACK follows)', ACK_LATENCY_BUCKETS),
    pointsWritten: counter('iiot_points_written_total', 'points InfluxDB acknowledged'),
    pointsDropped: counter('iiot_points_dropped_total', 'points given up on, by reason', ['reason']),
    writeErrors: counter('iiot_write_errors_total', 'failed write requests to InfluxDB, by whether they are retried', ['retriable']),
    clients: new Gauge({ name: 'iiot_mqtt_clients_connected', help: 'connected MQTT clients', registers: [registry] }),
    mqttIn: hotCounter(registry, 'iiot_mqtt_messages_in_total', 'PUBLISH packets under iiot/v1 handed to the journal (= accepted + rejected + QoS 0 dropped, once decoding has caught up)'),
    limits: counter('iiot_mqtt_limit_total', 'MQTT limits that fired, by limit (connections refused or closed, publishes delayed)', ['limit']),
    registryReloads: counter('iiot_registry_reloads_total', 'registry reloads (file change or SIGHUP), by outcome: ok, or failed (the previous registry stays in force; the log says why)', ['outcome']),
    apiAuthFailures: counter('iiot_api_auth_failures_total', 'API requests refused for their key, by reason: missing, unknown (no such key or a wrong secret), throttled (too many failures from the address)', ['reason']),
    apiSchemaMismatches: counter('iiot_api_schema_mismatches_total', 'API answers that did not match their documented schema (sent anyway, logged), by route', ['route']),
    tlsReloads: counter('iiot_mqtt_tls_reloads_total', 'TLS certificate reloads, by outcome', ['outcome']),
  }
}

export type Metrics = ReturnType<typeof createMetrics>

/** A counter bumped once or more per message: `add` is a plain addition, folded into prom-client when scraped or read. */
export type HotCounter = Counter<string> & { add(n?: number, label?: string): void }

/**
 * prom-client's `inc` hashes its labels and validates them on every call (80 ns with one label);
 * on the per-message path that was 2-3% of the service's CPU. Counts wait in a map until a
 * scrape or `get()` runs `collect`, which hands them to the counter.
 */
function hotCounter(registry: Registry, name: string, help: string, labelName?: string): HotCounter {
  const pending = new Map<string, number>()
  const counter = new Counter<string>({
    name,
    help,
    labelNames: labelName ? [labelName] : [],
    registers: [registry],
    collect() {
      for (const [value, n] of pending) {
        if (labelName) this.inc({ [labelName]: value }, n)
        else this.inc(n)
      }
      pending.clear()
    },
  })
  return Object.assign(counter, {
    add(n = 1, label = '') {
      pending.set(label, (pending.get(label) ?? 0) + n)
    },
  })
}

/** A histogram without labels that also takes many equal observations at once: `record` is plain arithmetic, folded into prom-client when scraped or read. */
export type HotHistogram = Histogram<string> & { record(value: number, times?: number): void }

/**
 * prom-client's `observe` validates and hashes its labels on every call (0.5 us measured on the
 * busy bench machine); once per acknowledged message that was a few per cent of the service's CPU.
 * `record` counts into plain arrays, and a scrape or `get()` adds them to the histogram's own
 * values (prom-client 15 keeps, per label set, per-bucket counts, a sum and a count).
 */
function hotHistogram(registry: Registry, name: string, help: string, buckets: readonly number[]): HotHistogram {
  const counts = new Array<number>(buckets.length).fill(0)
  let sum = 0
  let count = 0
  const histogram = new Histogram<string>({
    name,
    help,
    buckets: [...buckets],
    registers: [registry],
    collect() {
      if (count === 0) return
      type Values = { bucketValues: Record<number, number>; sum: number; count: number }
      const values = () => (this as unknown as { hashMap: Record<string, Values | undefined> }).hashMap['']
      // After a reset the label set is gone until something is observed: zero() makes it again.
      if (!values()) this.zero({})
      const own = values()
      if (!own) throw new Error(`${name}: prom-client's histogram values are not where hotHistogram expects them`)
      for (let i = 0; i < buckets.length; i++) {
        own.bucketValues[buckets[i]!]! += counts[i]!
        counts[i] = 0
      }
      own.sum += sum
      own.count += count
      sum = 0
      count = 0
    },
  })
  const reset = histogram.reset.bind(histogram)
  return Object.assign(histogram, {
    // What waits to be folded goes with the rest, as observations made with `observe` would.
    reset() {
      counts.fill(0)
      sum = 0
      count = 0
      reset()
    },
    record(value: number, times = 1) {
      let i = 0
      while (i < buckets.length && value > buckets[i]!) i++
      // Above the last bound only the count (+Inf) and the sum hold it, as with observe.
      if (i < buckets.length) counts[i]! += times
      sum += value * times
      count += times
    },
  })
}

/** Sums a counter's values by one label, for the JSON stats endpoint. */
export async function byLabel(metric: Counter<string>, label: string): Promise<Record<string, number>> {
  const out: Record<string, number> = {}
  for (const v of (await metric.get()).values) {
    const key = String(v.labels[label] ?? '')
    out[key] = (out[key] ?? 0) + v.value
  }
  return out
}

export async function total(metric: Counter<string>): Promise<number> {
  let sum = 0
  for (const v of (await metric.get()).values) sum += v.value
  return sum
}

/** Gauges read at scrape time from the journal and the drainer. */
export function registerJournalGauges(metrics: Metrics, read: () => { unwrittenBytes: number; unwrittenRecords: number; oldestUnwrittenMs: number | undefined; appendedRecords: number; full: boolean; diskFreeBytes?: number | undefined }): void {
  // Read from the journal at scrape time rather than counted per message on the hot path.
  let counted = 0
  new Counter({
    name: 'iiot_journal_appended_total',
    help: 'messages appended to the journal',
    registers: [metrics.registry],
    collect() {
      const appended = read().appendedRecords
      if (appended > counted) this.inc(appended - counted)
      counted = appended
    },
  })
  const gauge = (name: string, help: string, value: () => number) =>
    new Gauge({
      name,
      help,
      registers: [metrics.registry],
      collect() {
        this.set(value())
      },
    })
  gauge('iiot_journal_unwritten_bytes', 'journal bytes not yet written to InfluxDB', () => read().unwrittenBytes)
  gauge('iiot_journal_unwritten_records', 'journaled messages not yet written to InfluxDB', () => read().unwrittenRecords)
  gauge('iiot_journal_oldest_unwritten_age_seconds', 'age of the oldest journaled message not yet written (0 when none)', () => {
    const oldest = read().oldestUnwrittenMs
    return oldest === undefined ? 0 : (Date.now() - oldest) / 1000
  })
  gauge('iiot_journal_full', '1 while the journal is full: above its limit, short of disk space or failing writes (acknowledgements held, QoS 0 dropped)', () => (read().full ? 1 : 0))
  // Only a journal on disk knows its disk.
  if (read().diskFreeBytes !== undefined) gauge('iiot_journal_disk_free_bytes', "free bytes on the journal's disk (compare with JOURNAL_MIN_FREE_BYTES)", () => read().diskFreeBytes ?? 0)
}
