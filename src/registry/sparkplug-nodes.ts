import { machineKey } from '../domain/machine-key.js'
import type { FactoryDef, LineDef, MachineDef, RegistryFile, SparkplugEdgeNodeDef, SparkplugGroupDef, SparkplugMapping, ZoneDef } from './registry-schema.js'

/** A machine with where it is (the shape of registry.ts' MachineEntry, said here so the two files do not import each other). */
export interface MachineEntry {
  readonly zone: ZoneDef
  readonly factory: FactoryDef
  readonly line: LineDef
  readonly machine: MachineDef
}

/** One Sparkplug edge node as the registry maps it (docs/registry.md). */
export interface SparkplugNodeEntry {
  readonly group: SparkplugGroupDef
  readonly edgeNode: SparkplugEdgeNodeDef
  readonly zone: string
  readonly factory: string
  readonly gateway: string
  readonly mapping: SparkplugMapping | undefined
  /** The machine the node's own metrics belong to, if any. */
  readonly machine: MachineEntry | undefined
  /** device_id -> machine. */
  readonly devices: ReadonlyMap<string, MachineEntry>
}

export interface SparkplugIndex {
  /** `{group}/{edge node}` -> node. */
  readonly nodes: ReadonlyMap<string, SparkplugNodeEntry>
  /** gateway id -> the `{group}/{edge node}` keys it may publish as. */
  readonly byGateway: ReadonlyMap<string, readonly string[]>
}

/** Builds the Sparkplug lookups of a registry file; problems are appended to `problems`. */
export function indexSparkplug(
  file: RegistryFile,
  factory: (id: string) => { readonly zone: ZoneDef } | undefined,
  machine: (key: string) => MachineEntry | undefined,
  gatewayFactory: (id: string) => string | undefined,
  problems: string[],
): SparkplugIndex {
  const nodes = new Map<string, SparkplugNodeEntry>()
  const byGateway = new Map<string, string[]>()
  const groupIds = new Set<string>()
  ;(file.sparkplug?.groups ?? []).forEach((group, gi) => {
    const at = `sparkplug.groups[${gi}]`
    if (groupIds.has(group.id)) problems.push(`${at}.id: group "${group.id}" is defined twice`)
    groupIds.add(group.id)
    const owner = factory(group.factory)
    if (!owner) return problems.push(`${at}.factory: unknown factory "${group.factory}"`)
    const zone = owner.zone.id
    const machineOf = (where: string, line: string | undefined, id: string | undefined): MachineEntry | undefined => {
      if (line === undefined && id === undefined) return undefined
      const m = line !== undefined && id !== undefined ? machine(machineKey(zone, group.factory, line, id)) : undefined
      if (!m) problems.push(`${where}: machine "${line ?? '?'}/${id ?? '?'}" is not in factory "${group.factory}" (give both line and machine)`)
      return m
    }
    group.edgeNodes.forEach((edgeNode, ni) => {
      const nat = `${at}.edgeNodes[${ni}]`
      const key = `${group.id}/${edgeNode.id}`
      if (nodes.has(key)) problems.push(`${nat}.id: edge node "${edgeNode.id}" is defined twice in group "${group.id}"`)
      if (gatewayFactory(edgeNode.gateway) === undefined) problems.push(`${nat}.gateway: unknown gateway "${edgeNode.gateway}"`)
      else if (gatewayFactory(edgeNode.gateway) !== group.factory) problems.push(`${nat}.gateway: gateway "${edgeNode.gateway}" belongs to another factory than "${group.factory}"`)
      const devices = new Map<string, MachineEntry>()
      edgeNode.devices.forEach((d, di) => {
        if (devices.has(d.id)) problems.push(`${nat}.devices[${di}].id: device "${d.id}" is defined twice`)
        const m = machineOf(`${nat}.devices[${di}]`, d.line, d.machine)
        if (m) devices.set(d.id, m)
      })
      nodes.set(key, { group, edgeNode, zone, factory: group.factory, gateway: edgeNode.gateway, mapping: group.mapping, machine: machineOf(nat, edgeNode.line, edgeNode.machine), devices })
      const list = byGateway.get(edgeNode.gateway) ?? []
      list.push(key)
      byGateway.set(edgeNode.gateway, list)
    })
  })
  return { nodes, byGateway }
}
