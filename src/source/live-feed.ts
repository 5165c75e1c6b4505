import { randomBytes } from 'node:crypto'
import { readFileSync } from 'node:fs'
import mqtt from 'mqtt'
import type { Logger } from 'pino'
import type { ScaleOutConfig } from '../config/scale-out-config.js'
import type { Metrics } from '../metrics/metrics.js'
import type { Ingestor } from '../pipeline/ingestor.js'
import type { Pipeline } from '../pipeline/pipeline.js'
import type { AcceptedListener } from '../pipeline/processor.js'
import { isSparkplugTopic } from '../sparkplug/topic.js'

export interface LiveFeed extends Pick<Ingestor, 'onAccepted'> {
  close(): Promise<void>
}

/**
 * An API node's view of every worker's messages (docs/scaling-out.md): workers announce each
 * journaled message on `{BROKER_ANNOUNCE_TOPIC}/{gateway}/{topic}`; this feed decodes it with the
 * node's own pipeline (which keeps the live table: state, last seen, alarms) and hands what it
 * accepts to the live streams, exactly as a worker's processor does. Nothing is stored here.
 * QoS 0 on a clean session: a node that was away misses what passed meanwhile and is seeded from
 * InfluxDB when it starts; Sparkplug B messages are not decoded here (they need the host's births).
 */
export async function startLiveFeed(deps: { config: ScaleOutConfig['broker']; pipeline: Pipeline; metrics: Metrics; log: Logger }): Promise<LiveFeed> {
  const { config, pipeline, log } = deps
  const listeners = new Set<{ name: string; fn: AcceptedListener }>()
  const prefix = config.announceTopic + '/'
  const client = mqtt.connect(config.url, {
    // Not the workers' ids: every API node reads every announcement, and keeps no session.
    clientId: `${config.clientId}-api-${randomBytes(4).toString('hex')}`,
    clean: true,
    protocolVersion: 4,
    reconnectPeriod: 1000,
    ...(config.username !== undefined ? { username: config.username, password: config.password } : {}),
    ...(config.caFile ? { ca: readFileSync(config.caFile) } : {}),
  })
  client.on('message', (topic, payload) => {
    if (!topic.startsWith(prefix)) return
    const rest = topic.slice(prefix.length)
    const slash = rest.indexOf('/')
    const gatewayId = rest.slice(0, slash)
    const original = rest.slice(slash + 1)
    if (slash <= 0 || isSparkplugTopic(original)) return
    const outcome = pipeline.ingest({ topic: original, payload, gatewayId })
    if (!outcome.ok) return
    for (const l of listeners) {
      try {
        l.fn(outcome.accepted)
      } catch (err) {
        deps.metrics.listenerErrors.inc({ listener: l.name })
        log.error({ err, listener: l.name }, 'a listener of announced messages failed')
      }
    }
  })
  await new Promise<void>((resolve, reject) => {
    client.once('connect', () => client.subscribe(`${config.announceTopic}/#`, { qos: 0 }, (err) => (err ? reject(err) : resolve())))
    client.once('error', (err) => {
      client.end(true)
      reject(err)
    })
  })
  log.info({ url: config.url, topic: config.announceTopic }, 'API node following the workers\' announcements')
  return {
    onAccepted(listener, name) {
      const entry = { name, fn: listener }
      listeners.add(entry)
      return () => listeners.delete(entry)
    },
    async close() {
      await client.endAsync(true)
    },
  }
}
