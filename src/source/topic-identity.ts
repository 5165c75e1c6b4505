import { mayPublish } from '../domain/acl.js'
import { GATEWAY_SEGMENT, isUnderRoot } from '../domain/topic.js'
import type { Registry } from '../registry/registry.js'
import { isSparkplugTopic, mayPublishSparkplug, parseSparkplugTopic } from '../sparkplug/topic.js'

/**
 * Who sent a message a worker received from the external broker, which does not tell: MQTT 3.1.1
 * carries no publisher identity to subscribers. The topic says it, and the broker's ACL (generated
 * from the registry: docs/scaling-out.md) made sure the publisher may use that topic. The worker
 * checks again against its own registry, so a broker that let something through still does not
 * get it stored: `refuse` becomes a counted rejection.
 */
export type TopicIdentity =
  | { readonly kind: 'ingest'; readonly gatewayId: string }
  | { readonly kind: 'refuse'; readonly reason: 'not_authorized'; readonly message: string; readonly zone?: string; readonly factory?: string }
  /** The host's own traffic (Sparkplug STATE and commands) and anything outside our topic trees: acknowledged, not ingested. */
  | { readonly kind: 'ignore' }

const gatewaysByFactory = new WeakMap<Registry, Map<string, string[]>>()

function gatewaysOf(reg: Registry, factory: string): readonly string[] {
  let index = gatewaysByFactory.get(reg)
  if (!index) {
    index = new Map()
    for (const g of [...reg.file.gateways].sort((a, b) => a.id.localeCompare(b.id))) index.set(g.factory, [...(index.get(g.factory) ?? []), g.id])
    gatewaysByFactory.set(reg, index)
  }
  return index.get(factory) ?? []
}

export function identityOfTopic(reg: Registry, topic: string): TopicIdentity {
  if (isSparkplugTopic(topic)) {
    const parsed = parseSparkplugTopic(topic)
    // STATE, NCMD and DCMD are published by hosts (us), never by edge nodes.
    if (topic.startsWith('spBv1.0/STATE/')) return { kind: 'ignore' }
    if (!parsed.ok) return refuse(`not a Sparkplug topic of a registered edge node: ${parsed.reason}`)
    if (parsed.topic.type === 'NCMD' || parsed.topic.type === 'DCMD') return { kind: 'ignore' }
    const node = reg.sparkplugNode(parsed.topic.group, parsed.topic.edgeNode)
    const gw = node && reg.gateway(node.gateway)
    if (!gw || !mayPublishSparkplug(gw.sparkplugNodes, topic)) return refuse(`edge node ${parsed.topic.group}/${parsed.topic.edgeNode} is not registered`)
    return { kind: 'ingest', gatewayId: gw.gateway.id }
  }
  if (!isUnderRoot(topic)) return { kind: 'ignore' }
  const [, , zone = '', factory = '', third, fourth] = topic.split('/')
  if (third === GATEWAY_SEGMENT) {
    const gw = fourth === undefined ? undefined : reg.gateway(fourth)
    if (!gw || !mayPublish({ id: gw.gateway.id, zone: gw.zone, factory: gw.factory }, topic)) return refuse(`gateway "${fourth ?? ''}" is not registered in ${zone}/${factory}`, zone, factory)
    return { kind: 'ingest', gatewayId: gw.gateway.id }
  }
  // A machine topic names no gateway: any gateway of the factory may publish it (docs/security.md);
  // the first by id stands for them (it only partitions decoding and labels rejections).
  const entry = reg.factory(factory)
  const gateways = entry && entry.zone.id === zone ? gatewaysOf(reg, factory) : []
  if (gateways.length === 0) return refuse(`no registered gateway may publish in ${zone}/${factory}`, zone, factory)
  return { kind: 'ingest', gatewayId: gateways[0]! }
}

function refuse(message: string, zone?: string, factory?: string): TopicIdentity {
  return { kind: 'refuse', reason: 'not_authorized', message, ...(zone ? { zone } : {}), ...(factory ? { factory } : {}) }
}
