import type { Logger } from 'pino'
import type { Metrics } from '../metrics/metrics.js'
import { createLogSampler } from '../pipeline/log-sampler.js'

/** Every protection of the broker that can fire, as counted in `iiot_mqtt_limit_total{limit}`. */
export type LimitName =
  | 'connect_rate_global'
  | 'connect_rate_address'
  | 'auth_failures_address'
  | 'auth_busy'
  | 'connections_per_gateway'
  | 'publish_rate'
  | 'packet_size'
  | 'topic_length'
  | 'topic_levels'
  | 'subscriptions'
  | 'session_queue'
  | 'client_id_length'
  | 'keepalive'
  | 'keepalive_timeout'
  | 'connect_timeout'
  | 'drain_timeout'
  | 'queue_limit'
  | 'inflight_qos2'

export type LimitReporter = (limit: LimitName, context?: Record<string, unknown>) => void

/**
 * Counts every firing, and logs at warn at most once a second per limit (with
 * how many were not logged), so that a flood cannot turn into a logging storm.
 */
export function createLimitReporter(metrics: Metrics, log: Logger): LimitReporter {
  const warn = createThrottledWarn(log)
  return (limit, context = {}) => {
    metrics.limits.inc({ limit })
    warn(limit, { limit, ...context }, 'MQTT limit reached')
  }
}

/** A warn logger that writes one line per key per interval and counts the rest. */
export function createThrottledWarn(log: Logger, intervalMs = 1000): (key: string, obj: Record<string, unknown>, msg: string) => void {
  const sample = createLogSampler(intervalMs)
  return (key, obj, msg) => {
    const suppressed = sample(key)
    if (suppressed !== undefined) log.warn(suppressed > 0 ? { ...obj, suppressed } : obj, msg)
  }
}

/** Aedes reports its own limits as client errors; these are their messages (aedes 1.x lib/). */
export function limitOfAedesError(message: string): LimitName | undefined {
  if (message === 'connect did not arrive in time') return 'connect_timeout'
  if (message === 'keep alive timeout') return 'keepalive_timeout'
  if (message === 'drain timeout') return 'drain_timeout'
  if (message === 'Client queue limit reached') return 'queue_limit'
  if (message === 'topic has too many levels') return 'topic_levels'
  if (message.startsWith('maxInflightInbound exceeded')) return 'inflight_qos2'
  return undefined
}
