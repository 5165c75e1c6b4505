/**
 * The one spelling of a machine's identity as a single string, used wherever machines are
 * looked up or grouped: the registry, the live table, the readers' results. Ids are slugs
 * (docs/registry.md), so "/" cannot occur inside one.
 */
export type MachineKey = string

export function machineKey(zone: string, factory: string, line: string, machine: string): MachineKey {
  return `${zone}/${factory}/${line}/${machine}`
}
