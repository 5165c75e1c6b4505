import { GATEWAY_SEGMENT, factoryPrefix } from './topic.js'

/** What a gateway is allowed to do (docs/security.md). */
export interface GatewayIdentity {
  readonly id: string
  readonly zone: string
  readonly factory: string
  /** The Sparkplug edge nodes (`{group}/{edge node}`) it may publish as (docs/sparkplug.md). */
  readonly sparkplugNodes?: readonly string[]
}

/**
 * A gateway publishes only under `iiot/v1/{its zone}/{its factory}/`, and at
 * gateway level only under its own id.
 */
export function mayPublish(gw: GatewayIdentity, topic: string): boolean {
  const prefix = factoryPrefix(gw.zone, gw.factory)
  if (!topic.startsWith(prefix)) return false
  const rest = topic.slice(prefix.length)
  if (rest.startsWith(GATEWAY_SEGMENT + '/')) return rest.startsWith(`${GATEWAY_SEGMENT}/${gw.id}/`)
  return true
}

/** A gateway subscribes only to filters inside its own factory (wildcards only below the prefix). */
export function maySubscribe(gw: GatewayIdentity, filter: string): boolean {
  return filter.startsWith(factoryPrefix(gw.zone, gw.factory))
}
