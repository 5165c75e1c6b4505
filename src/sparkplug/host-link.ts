import type { Aedes } from 'aedes'
import type { Logger } from 'pino'
import { encodeSparkplugPayload } from './payload.js'
import { sparkplugTopic, stateTopic } from './topic.js'
import { DataType } from './values.js'

export interface HostLink {
  /** Publishes STATE `online: true` (retained, QoS 1): edge nodes waiting for this host may now publish. */
  online(): Promise<void>
  /** Publishes STATE `online: false` (retained, QoS 1): call before the broker closes. */
  offline(): Promise<void>
  /** NCMD `Node Control/Rebirth` = true to one edge node. */
  sendRebirth(group: string, edgeNode: string): void
}

/**
 * The host's side of the embedded broker (Sparkplug 3.0, 5.3 and 6.4.6): its STATE message and
 * its commands, published by the broker itself (no client, so no ACL). STATE's timestamp is the
 * time the host came online or went offline, kept as it was for the matching offline message.
 * There is no will: the host and the broker are one process, so an unclean stop takes the
 * broker, its retained STATE and every edge node's connection down together, which edge nodes
 * see as the host's death (docs/sparkplug.md).
 */
export function createHostLink(aedes: Pick<Aedes, 'publish'>, hostId: string, log: Logger, now: () => number = Date.now): HostLink {
  let onlineTs = now()
  const publish = (topic: string, payload: Buffer, qos: 0 | 1, retain: boolean): Promise<void> =>
    new Promise((resolve, reject) => aedes.publish({ cmd: 'publish', topic, payload, qos, retain, dup: false }, (err?: Error | null) => (err ? reject(err) : resolve())))
  const state = (online: boolean, timestamp: number) => publish(stateTopic(hostId), Buffer.from(JSON.stringify({ online, timestamp })), 1, true)
  return {
    online() {
      onlineTs = now()
      return state(true, onlineTs)
    },
    offline() {
      return state(false, onlineTs)
    },
    sendRebirth(group, edgeNode) {
      const payload = encodeSparkplugPayload({ timestamp: now(), metrics: [{ name: 'Node Control/Rebirth', datatype: DataType.Boolean, booleanValue: true }] })
      log.info({ group, edgeNode }, 'Sparkplug rebirth requested')
      publish(sparkplugTopic(group, 'NCMD', edgeNode), payload, 0, false).catch((err: unknown) => log.error({ err, group, edgeNode }, 'could not publish a Sparkplug rebirth request'))
    },
  }
}
