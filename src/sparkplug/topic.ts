/**
 * The Sparkplug B topic namespace (Eclipse Sparkplug 3.0, section 4.1; docs/sparkplug.md):
 *   spBv1.0/{group_id}/{message_type}/{edge_node_id}[/{device_id}]
 *   spBv1.0/STATE/{host_id}
 */
export const SPARKPLUG_NAMESPACE = 'spBv1.0'
export const SPARKPLUG_PREFIX = SPARKPLUG_NAMESPACE + '/'

export const NODE_MESSAGE_TYPES = ['NBIRTH', 'NDATA', 'NDEATH', 'NCMD'] as const
export const DEVICE_MESSAGE_TYPES = ['DBIRTH', 'DDATA', 'DDEATH', 'DCMD'] as const
export type NodeMessageType = (typeof NODE_MESSAGE_TYPES)[number]
export type DeviceMessageType = (typeof DEVICE_MESSAGE_TYPES)[number]
export type SparkplugMessageType = NodeMessageType | DeviceMessageType

export interface SparkplugTopic {
  readonly group: string
  readonly type: SparkplugMessageType
  readonly edgeNode: string
  /** Set for the device message types only. */
  readonly device: string | undefined
}

export type SparkplugTopicResult = { ok: true; topic: SparkplugTopic } | { ok: false; reason: string }

const nodeTypes: ReadonlySet<string> = new Set(NODE_MESSAGE_TYPES)
const deviceTypes: ReadonlySet<string> = new Set(DEVICE_MESSAGE_TYPES)

export function isSparkplugTopic(topic: string): boolean {
  return topic.startsWith(SPARKPLUG_PREFIX)
}

/** A Sparkplug id: non-empty UTF-8 without the MQTT separators and wildcards (section 4.1.1). */
export function isSparkplugId(id: string): boolean {
  return id.length > 0 && id.length <= 128 && !/[/+#]/.test(id)
}

export function parseSparkplugTopic(topic: string): SparkplugTopicResult {
  const parts = topic.split('/')
  if (parts[0] !== SPARKPLUG_NAMESPACE) return { ok: false, reason: `a Sparkplug topic starts with ${SPARKPLUG_PREFIX}` }
  const [, group = '', type = '', edgeNode = '', device] = parts
  if (group === 'STATE') return { ok: false, reason: 'STATE topics are published by host applications, not edge nodes' }
  if (parts.length < 4 || parts.length > 5) return { ok: false, reason: 'topic must be spBv1.0/{group_id}/{message_type}/{edge_node_id}[/{device_id}]' }
  if (!isSparkplugId(group)) return { ok: false, reason: `group_id "${group}" is not a valid Sparkplug id` }
  if (!isSparkplugId(edgeNode)) return { ok: false, reason: `edge_node_id "${edgeNode}" is not a valid Sparkplug id` }
  if (device === undefined) {
    if (!nodeTypes.has(type)) return { ok: false, reason: `"${type}" is not an edge node message type (${NODE_MESSAGE_TYPES.join(', ')})` }
    return { ok: true, topic: { group, type: type as SparkplugMessageType, edgeNode, device: undefined } }
  }
  if (!deviceTypes.has(type)) return { ok: false, reason: `"${type}" is not a device message type (${DEVICE_MESSAGE_TYPES.join(', ')})` }
  if (!isSparkplugId(device)) return { ok: false, reason: `device_id "${device}" is not a valid Sparkplug id` }
  return { ok: true, topic: { group, type: type as SparkplugMessageType, edgeNode, device } }
}

export function sparkplugTopic(group: string, type: SparkplugMessageType, edgeNode: string, device?: string): string {
  return `${SPARKPLUG_PREFIX}${group}/${type}/${edgeNode}${device === undefined ? '' : '/' + device}`
}

export function stateTopic(hostId: string): string {
  return `${SPARKPLUG_PREFIX}STATE/${hostId}`
}

/** An edge node as the ACL knows it: `{group_id}/{edge_node_id}`. */
export function nodeKey(group: string, edgeNode: string): string {
  return `${group}/${edgeNode}`
}

/**
 * An edge node publishes only its own messages: N/D BIRTH, DATA and DEATH under its own group
 * and edge node id (docs/security.md). Commands (NCMD, DCMD) and STATE are the host's.
 */
export function mayPublishSparkplug(nodes: readonly string[] | undefined, topic: string): boolean {
  const parsed = parseSparkplugTopic(topic)
  if (!parsed.ok || !nodes) return false
  const t = parsed.topic
  if (t.type === 'NCMD' || t.type === 'DCMD') return false
  return nodes.includes(nodeKey(t.group, t.edgeNode))
}

/**
 * An edge node subscribes only to its own commands (`.../NCMD/{edge}`, `.../DCMD/{edge}/...`,
 * wildcards allowed below its edge node id) and to a host's STATE topic (no wildcards).
 */
export function maySubscribeSparkplug(nodes: readonly string[] | undefined, filter: string): boolean {
  // A gateway that is no Sparkplug edge node has nothing to read here, the host's STATE included.
  if (!nodes || nodes.length === 0 || !filter.startsWith(SPARKPLUG_PREFIX)) return false
  const parts = filter.split('/')
  if (parts[1] === 'STATE') return parts.length === 3 && isSparkplugId(parts[2]!)
  const [, group = '', type = '', edgeNode = '', ...rest] = parts
  if (type !== 'NCMD' && type !== 'DCMD') return false
  if (!nodes.includes(nodeKey(group, edgeNode))) return false
  if (type === 'NCMD') return rest.length === 0 || (rest.length === 1 && rest[0] === '#')
  return rest.length === 1 && (rest[0] === '#' || rest[0] === '+' || isSparkplugId(rest[0]!))
}
