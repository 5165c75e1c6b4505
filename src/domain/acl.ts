import { GATEWAY_SEGMENT, factoryPrefix } from './topic.js'

/** What a gateway is allowed to do (docs/security.md). */
export interface GatewayIdentity {
  readonly id: string
  readonly zone: string
  readonly factory: string
  /** The Sparkplug edge nodes (`{group}/{edge node}`) it may publish as (docs/sparkplug.md). */
  readonly sparkplugNodes?: readonly string[]
}

const GATEWAY_LEVEL = GATEWAY_SEGMENT + '/'
/** Each identity's factory prefix, built once rather than per publish (an identity is fixed for its connection). */
const prefixes = new WeakMap<GatewayIdentity, string>()

/**
 * A gateway publishes only under `iiot/v1/{its zone}/{its factory}/`, and at
 * gateway level only under its own id.
 */
export function mayPublish(gw: GatewayIdentity, topic: string): boolean {
  let prefix = prefixes.get(gw)
  if (prefix === undefined) prefixes.set(gw, (prefix = factoryPrefix(gw.zone, gw.factory)))
  if (!topic.startsWith(prefix)) return false
  // `{prefix}_gateway/{its id}/...` only: compared in place, without slicing the topic.
  const at = prefix.length + GATEWAY_LEVEL.length
  if (!topic.startsWith(GATEWAY_LEVEL, prefix.length)) return true
  return topic.startsWith(gw.id, at) && topic.charCodeAt(at + gw.id.length) === 0x2f
}

/** A gateway subscribes only to filters inside its own factory (wildcards only below the prefix). */
export function maySubscribe(gw: GatewayIdentity, filter: string): boolean {
  return filter.startsWith(factoryPrefix(gw.zone, gw.factory))
}
