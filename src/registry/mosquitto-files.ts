import { factoryPrefix, GATEWAY_SEGMENT } from '../domain/topic.js'
import type { RegistryFile } from './registry-schema.js'

export interface MosquittoFilesOptions {
  /** The one MQTT user of workers and API nodes (BROKER_USERNAME) and its `$7$` hash. */
  readonly serviceUser: string
  readonly serviceHash: string
  /** BROKER_ANNOUNCE_TOPIC: workers publish there, API nodes read it; no gateway may touch it. */
  readonly announceTopic: string
  /** SPARKPLUG_HOST_ID: the STATE topic the service publishes. */
  readonly sparkplugHostId: string
}

export interface MosquittoFiles {
  /** mosquitto's `password_file`: `user:$7$...` lines. */
  readonly passwd: string
  /** mosquitto's `acl_file`. */
  readonly acl: string
  /** Gateways without a `brokerHash`: they are in the ACL but cannot log in until their secret is re-issued with one. */
  readonly withoutBrokerHash: readonly string[]
}

const SPARKPLUG_NODE_TYPES = ['NBIRTH', 'NDATA', 'NDEATH'] as const
const SPARKPLUG_DEVICE_TYPES = ['DBIRTH', 'DDATA', 'DDEATH'] as const

/**
 * Mosquitto's password and ACL files from the registry, so the registry stays the one source of
 * truth of who may publish where (docs/scaling-out.md, docs/security.md). The ACL is the one the
 * embedded broker applies (src/domain/acl.ts, src/sparkplug/topic.ts), spelled as Mosquitto
 * patterns: machine topics per registered line (a line id is a slug, so `+` at that level would
 * also match `_gateway`), gateway-level topics under the gateway's own id only, Sparkplug messages
 * per edge node and message type (never NCMD/DCMD, which are the host's). Mosquitto denies what
 * no line allows.
 */
export function mosquittoFiles(doc: RegistryFile, opts: MosquittoFilesOptions): MosquittoFiles {
  const passwd: string[] = [`${opts.serviceUser}:${opts.serviceHash}`]
  const acl: string[] = ['# Generated from the iiot-ingest registry (iiot-registry mosquitto-config): edit the registry, not this file.', '']
  const withoutBrokerHash: string[] = []
  const factories = new Map<string, { zone: string; lines: string[] }>()
  for (const z of doc.zones) for (const f of z.factories) factories.set(f.id, { zone: z.id, lines: f.lines.map((l) => l.id) })
  const nodesOf = new Map<string, string[]>()
  for (const g of doc.sparkplug?.groups ?? []) {
    for (const n of g.edgeNodes) nodesOf.set(n.gateway, [...(nodesOf.get(n.gateway) ?? []), `${g.id}/${n.id}`])
  }

  for (const gw of doc.gateways) {
    const f = factories.get(gw.factory)
    if (!f) continue
    if (gw.brokerHash) passwd.push(`${gw.id}:${gw.brokerHash}`)
    else withoutBrokerHash.push(gw.id)
    const prefix = factoryPrefix(f.zone, gw.factory)
    acl.push(`user ${gw.id}`)
    for (const line of f.lines) acl.push(`topic write ${prefix}${line}/+/+`)
    acl.push(`topic write ${prefix}${GATEWAY_SEGMENT}/${gw.id}/+`)
    // Subscribing inside its own factory, as the embedded broker allows (src/domain/acl.ts, maySubscribe).
    acl.push(`topic read ${prefix}#`)
    for (const node of nodesOf.get(gw.id) ?? []) {
      const [group, edge] = node.split('/') as [string, string]
      for (const t of SPARKPLUG_NODE_TYPES) acl.push(`topic write spBv1.0/${group}/${t}/${edge}`)
      for (const t of SPARKPLUG_DEVICE_TYPES) acl.push(`topic write spBv1.0/${group}/${t}/${edge}/+`)
      acl.push(`topic read spBv1.0/${group}/NCMD/${edge}`, `topic read spBv1.0/${group}/DCMD/${edge}/+`)
    }
    if (nodesOf.has(gw.id)) acl.push('topic read spBv1.0/STATE/+')
    acl.push('')
  }

  acl.push(
    `user ${opts.serviceUser}`,
    'topic read iiot/v1/#',
    'topic read spBv1.0/#',
    `topic write spBv1.0/STATE/${opts.sparkplugHostId}`,
    'topic write spBv1.0/+/NCMD/+',
    `topic readwrite ${opts.announceTopic}/#`,
    '',
  )
  return { passwd: passwd.join('\n') + '\n', acl: acl.join('\n'), withoutBrokerHash }
}
