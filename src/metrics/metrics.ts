import { Counter, Gauge, Registry, collectDefaultMetrics } from 'prom-client'

/** All Prometheus metrics of the service, on one registry (served at /metrics). */
export function createMetrics() {
  const registry = new Registry()
  collectDefaultMetrics({ register: registry, prefix: 'iiot_' })
  const counter = <L extends string>(name: string, help: string, labelNames: readonly L[] = []) => new Counter<L>({ name, help, labelNames, registers: [registry] })
  return {
    registry,
    received: counter('iiot_messages_received_total', 'MQTT messages received under iiot/v1, by kind', ['kind']),
    accepted: counter('iiot_messages_accepted_total', 'messages decoded, validated and queued for storage, by kind', ['kind']),
    rejected: counter('iiot_messages_rejected_total', 'messages rejected, by reason', ['reason']),
    refused: counter('iiot_mqtt_refused_total', 'MQTT operations refused: connect (bad credentials), publish or subscribe (ACL)', ['operation', 'reason']),
    pointsQueued: counter('iiot_points_queued_total', 'points handed to the storage writer'),
    pointsWritten: counter('iiot_points_written_total', 'points InfluxDB acknowledged'),
    pointsDropped: counter('iiot_points_dropped_total', 'points given up on, by reason', ['reason']),
    writeErrors: counter('iiot_write_errors_total', 'failed write requests to InfluxDB, by whether they are retried', ['retriable']),
    writeBufferLines: new Gauge({ name: 'iiot_write_buffer_lines', help: 'points waiting to be written', registers: [registry] }),
    clients: new Gauge({ name: 'iiot_mqtt_clients_connected', help: 'connected MQTT clients', registers: [registry] }),
  }
}

export type Metrics = ReturnType<typeof createMetrics>

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
