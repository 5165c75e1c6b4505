import { timingSafeEqual, createHash } from 'node:crypto'
import { mayPublish, maySubscribe } from '../domain/acl.js'
import { isUnderRoot } from '../domain/topic.js'
import type { Config } from '../config/config.js'
import { gatewayIdentity, type Registry } from '../registry/registry.js'
import { isSparkplugTopic, mayPublishSparkplug, maySubscribeSparkplug } from '../sparkplug/topic.js'

/** What the broker-facing auth endpoint knows besides the registry (docs/scaling-out.md). */
export interface BrokerAccessConfig {
  /** The shared secret the broker presents (BROKER_AUTH_SECRET). */
  readonly secret: string
  /** Workers' and API nodes' own user (BROKER_USERNAME / BROKER_PASSWORD). */
  readonly serviceUser: string | undefined
  readonly servicePassword: string | undefined
  readonly announceTopic: string
  readonly sparkplugHostId: string
}

export type BrokerAction = 'publish' | 'subscribe'

/** The endpoint's settings from the configuration; undefined (no endpoint) without BROKER_AUTH_SECRET. */
export function brokerAccessOf(config: Pick<Config, 'scaleOut' | 'sparkplug'>): BrokerAccessConfig | undefined {
  const so = config.scaleOut
  if (!so.authSecret) return undefined
  return { secret: so.authSecret, serviceUser: so.broker.username, servicePassword: so.broker.password, announceTopic: so.broker.announceTopic, sparkplugHostId: config.sparkplug.hostId }
}

/** Constant-time string equality (over digests, so lengths do not leak either). */
export function sameSecret(a: string, b: string): boolean {
  const h = (s: string) => createHash('sha256').update(s).digest()
  return timingSafeEqual(h(a), h(b))
}

export async function authenticateBrokerClient(reg: Registry, cfg: BrokerAccessConfig, username: string, password: string): Promise<boolean> {
  if (cfg.serviceUser !== undefined && username === cfg.serviceUser) return cfg.servicePassword !== undefined && sameSecret(password, cfg.servicePassword)
  return (await reg.authenticateGateway(username, password)) !== undefined
}

/**
 * The embedded broker's ACL (docs/security.md) for an external broker's HTTP authorization call:
 * a gateway publishes and subscribes only inside its factory (and its Sparkplug edge nodes); the
 * service user reads our trees, and publishes only announcements, its STATE and NCMD rebirths.
 */
export function authorizeBrokerClient(reg: Registry, cfg: BrokerAccessConfig, username: string, action: BrokerAction, rawTopic: string): boolean {
  // Brokers differ on whether a shared subscription reaches authorization with its `$share/{group}/` prefix.
  const topic = rawTopic.startsWith('$share/') ? rawTopic.split('/').slice(2).join('/') : rawTopic
  if (cfg.serviceUser !== undefined && username === cfg.serviceUser) {
    const announce = topic === cfg.announceTopic || topic.startsWith(cfg.announceTopic + '/')
    if (action === 'subscribe') return announce || topic === 'iiot/v1/#' || topic === 'spBv1.0/#'
    return announce || topic === `spBv1.0/STATE/${cfg.sparkplugHostId}` || /^spBv1\.0\/[^/+#]+\/NCMD\/[^/+#]+$/.test(topic)
  }
  const entry = reg.gateway(username)
  if (!entry) return false
  const gw = gatewayIdentity(entry)
  if (isSparkplugTopic(topic)) return action === 'publish' ? mayPublishSparkplug(gw.sparkplugNodes, topic) : maySubscribeSparkplug(gw.sparkplugNodes, topic)
  if (!isUnderRoot(topic)) return false
  return action === 'publish' ? mayPublish(gw, topic) : maySubscribe(gw, topic)
}
