import { isSlug } from './ids.js'

/**
 * Topic grammar (docs/gateway-contract.md):
 *   iiot/v1/{zone}/{factory}/{line}/{machine}/{kind}
 *   iiot/v1/{zone}/{factory}/_gateway/{gateway}/{kind}
 */
export const TOPIC_ROOT = 'iiot/v1'
export const GATEWAY_SEGMENT = '_gateway'

export const MACHINE_KINDS = ['telemetry', 'state', 'production', 'quality', 'material'] as const
export const GATEWAY_KINDS = ['connectivity'] as const
export const KINDS = [...MACHINE_KINDS, ...GATEWAY_KINDS] as const

export type MachineKind = (typeof MACHINE_KINDS)[number]
export type GatewayKind = (typeof GATEWAY_KINDS)[number]
export type Kind = (typeof KINDS)[number]

export interface MachineTopic {
  readonly scope: 'machine'
  readonly zone: string
  readonly factory: string
  readonly line: string
  readonly machine: string
  readonly kind: MachineKind
}

export interface GatewayTopic {
  readonly scope: 'gateway'
  readonly zone: string
  readonly factory: string
  readonly gateway: string
  readonly kind: GatewayKind
}

export type ParsedTopic = MachineTopic | GatewayTopic

export type TopicParseResult = { ok: true; topic: ParsedTopic } | { ok: false; reason: string }

const machineKinds: ReadonlySet<string> = new Set(MACHINE_KINDS)
const gatewayKinds: ReadonlySet<string> = new Set(GATEWAY_KINDS)

export function isUnderRoot(topic: string): boolean {
  return topic.startsWith(TOPIC_ROOT + '/')
}

export function parseTopic(topic: string): TopicParseResult {
  const parts = topic.split('/')
  if (parts.length !== 7 || parts[0] !== 'iiot' || parts[1] !== 'v1') {
    return { ok: false, reason: 'topic must be iiot/v1/{zone}/{factory}/{line}/{machine}/{kind}' }
  }
  const [, , zone, factory, third, fourth, kind] = parts as [string, string, string, string, string, string, string]
  for (const [name, value] of [['zone', zone], ['factory', factory]] as const) {
    if (!isSlug(value)) return { ok: false, reason: `${name} "${value}" is not a valid id` }
  }
  if (third === GATEWAY_SEGMENT) {
    if (!isSlug(fourth)) return { ok: false, reason: `gateway "${fourth}" is not a valid id` }
    if (!gatewayKinds.has(kind)) return { ok: false, reason: `unknown gateway-level kind "${kind}"` }
    return { ok: true, topic: { scope: 'gateway', zone, factory, gateway: fourth, kind: kind as GatewayKind } }
  }
  if (!isSlug(third)) return { ok: false, reason: `line "${third}" is not a valid id` }
  if (!isSlug(fourth)) return { ok: false, reason: `machine "${fourth}" is not a valid id` }
  if (!machineKinds.has(kind)) return { ok: false, reason: `unknown kind "${kind}"` }
  return { ok: true, topic: { scope: 'machine', zone, factory, line: third, machine: fourth, kind: kind as MachineKind } }
}

export function machineTopic(t: Omit<MachineTopic, 'scope'>): string {
  return `${TOPIC_ROOT}/${t.zone}/${t.factory}/${t.line}/${t.machine}/${t.kind}`
}

export function gatewayTopic(t: Omit<GatewayTopic, 'scope'>): string {
  return `${TOPIC_ROOT}/${t.zone}/${t.factory}/${GATEWAY_SEGMENT}/${t.gateway}/${t.kind}`
}

/** The prefix a gateway of this factory may publish under (its ACL). */
export function factoryPrefix(zone: string, factory: string): string {
  return `${TOPIC_ROOT}/${zone}/${factory}/`
}
