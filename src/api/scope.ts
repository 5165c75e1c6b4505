import { AppError } from '../errors.js'
import type { ApiKeyEntry, Registry } from '../registry/registry.js'
import type { Scope } from '../storage/ports.js'
import { badRequest } from './problem.js'

/**
 * Turns the scope a request asks for into the scope it may read, checking
 * ids against the registry (unknown: 404) and against the key's scope
 * (outside it: 403). A request that names nothing gets the key's whole scope.
 */
export function resolveScope(registry: Registry, key: ApiKeyEntry, asked: Scope): Scope {
  if (asked.line !== undefined && asked.factory === undefined) throw badRequest('factory', 'required when line is given')
  if (asked.machine !== undefined && asked.line === undefined) throw badRequest('line', 'required when machine is given')

  let zone = asked.zone
  if (zone !== undefined && !registry.zone(zone)) throw notFound(`zone "${zone}" is not in the registry`)
  if (asked.factory !== undefined) {
    const f = registry.factory(asked.factory)
    if (!f || (zone !== undefined && f.zone.id !== zone)) throw notFound(`factory "${asked.factory}" is not in the registry${zone ? ` under zone "${zone}"` : ''}`)
    zone = f.zone.id
    if (asked.line !== undefined && !f.factory.lines.some((l) => l.id === asked.line)) throw notFound(`line "${asked.line}" is not in factory "${asked.factory}"`)
    if (asked.machine !== undefined && !registry.machine(zone, asked.factory, asked.line!, asked.machine)) throw notFound(`machine "${asked.machine}" is not on line "${asked.line}"`)
  }
  const scope = { zone, factory: asked.factory, line: asked.line, machine: asked.machine }

  const allowed = key.scope
  if ('all' in allowed) return scope
  if ('zone' in allowed) {
    if (scope.zone !== undefined && scope.zone !== allowed.zone) throw forbidden(key, `zone "${scope.zone}"`)
    return { ...scope, zone: allowed.zone }
  }
  const own = registry.factory(allowed.factory)
  if (!own) throw forbidden(key, 'any factory')
  if (scope.factory !== undefined && scope.factory !== allowed.factory) throw forbidden(key, `factory "${scope.factory}"`)
  if (scope.zone !== undefined && scope.zone !== own.zone.id) throw forbidden(key, `zone "${scope.zone}"`)
  return { ...scope, zone: own.zone.id, factory: allowed.factory }
}

/** Whether a record of (zone, factory) lies in the key's scope. */
export function keyCovers(key: ApiKeyEntry, zone: string | undefined, factory: string | undefined): boolean {
  const s = key.scope
  if ('all' in s) return true
  if ('zone' in s) return zone === s.zone
  return factory === s.factory
}

function notFound(message: string): AppError {
  return new AppError('IIOT_ERR_API_NOT_FOUND', message)
}

function forbidden(key: ApiKeyEntry, what: string): AppError {
  return new AppError('IIOT_ERR_API_FORBIDDEN', `API key "${key.id}" may not read ${what}`)
}

export interface MachineInScope {
  readonly zone: string
  readonly factory: string
  readonly line: string
  readonly machine: string
  readonly idealCycleTimeS: number
}

/** Every registered machine inside a resolved scope, in registry order. */
export function machinesInScope(registry: Registry, scope: Scope): MachineInScope[] {
  const out: MachineInScope[] = []
  for (const z of registry.zones) {
    if (scope.zone !== undefined && z.id !== scope.zone) continue
    for (const f of z.factories) {
      if (scope.factory !== undefined && f.id !== scope.factory) continue
      for (const l of f.lines) {
        if (scope.line !== undefined && l.id !== scope.line) continue
        for (const m of l.machines) {
          if (scope.machine !== undefined && m.id !== scope.machine) continue
          out.push({ zone: z.id, factory: f.id, line: l.id, machine: m.id, idealCycleTimeS: m.idealCycleTimeS })
        }
      }
    }
  }
  return out
}
