import { createHash } from 'node:crypto'
import type { GatewayIdentity } from '../domain/acl.js'
import { machineKey } from '../domain/machine-key.js'
import { AppError } from '../errors.js'
import {
  registryFileSchema,
  type ApiKeyDef,
  type ApiKeyScope,
  type FactoryDef,
  type GatewayDef,
  type LineDef,
  type MachineDef,
  type RegistryFile,
  type ZoneDef,
} from './registry-schema.js'
import { decoyHash, verifySecret } from './secret-hash.js'
import { indexSparkplug, type SparkplugIndex, type SparkplugNodeEntry } from './sparkplug-nodes.js'

export interface FactoryEntry {
  readonly zone: ZoneDef
  readonly factory: FactoryDef
}

export interface MachineEntry extends FactoryEntry {
  readonly line: LineDef
  readonly machine: MachineDef
}

export interface GatewayEntry {
  readonly gateway: GatewayDef
  readonly zone: string
  readonly factory: string
  /** The Sparkplug edge nodes (`{group}/{edge node}`) it connects as (docs/sparkplug.md). */
  readonly sparkplugNodes: readonly string[]
}

/** What the ACL checks of a gateway (domain/acl.ts): its id, where it is, its Sparkplug nodes. */
export function gatewayIdentity(entry: GatewayEntry): GatewayIdentity {
  return { id: entry.gateway.id, zone: entry.zone, factory: entry.factory, sparkplugNodes: entry.sparkplugNodes }
}

export interface ApiKeyEntry {
  readonly id: string
  readonly scope: ApiKeyScope
}

const VERIFIED_CACHE_MAX = 10_000

/** An API key as presented: `<key id>.<secret>` (docs/security.md); undefined when it has no such shape. */
export function parseApiKey(presented: string): { id: string; secret: string } | undefined {
  const dot = presented.indexOf('.')
  return dot > 0 ? { id: presented.slice(0, dot), secret: presented.slice(dot + 1) } : undefined
}

/**
 * One validated, immutable snapshot of the registry file. Lookups are O(1).
 * A reload builds a new snapshot; holders swap the reference.
 */
export class Registry {
  readonly file: RegistryFile
  private readonly factories = new Map<string, FactoryEntry>()
  private readonly machines = new Map<string, MachineEntry>()
  private readonly gateways = new Map<string, GatewayEntry>()
  private readonly apiKeys = new Map<string, ApiKeyDef>()
  private readonly sparkplug: SparkplugIndex
  // Successful scrypt verifications, keyed by id + SHA-256 of the presented secret,
  // so that a reconnecting gateway or a busy API client does not pay the slow hash each time.
  private readonly verified = new Map<string, true>()
  // What an unknown key id is checked against: the cost of the keys we have, matching nothing.
  private readonly apiKeyDecoy: string
  private readonly gatewayDecoy: string

  private constructor(file: RegistryFile) {
    this.file = file
    const problems: string[] = []
    file.zones.forEach((zone, zi) => {
      zone.factories.forEach((factory, fi) => {
        if (this.factories.has(factory.id)) problems.push(`zones[${zi}].factories[${fi}].id: factory "${factory.id}" is defined twice (factory ids are unique across zones)`)
        this.factories.set(factory.id, { zone, factory })
        const lineIds = new Set<string>()
        factory.lines.forEach((line, li) => {
          if (lineIds.has(line.id)) problems.push(`zones[${zi}].factories[${fi}].lines[${li}].id: line "${line.id}" is defined twice in factory "${factory.id}"`)
          lineIds.add(line.id)
          line.machines.forEach((machine, mi) => {
            const key = machineKey(zone.id, factory.id, line.id, machine.id)
            if (this.machines.has(key)) problems.push(`zones[${zi}].factories[${fi}].lines[${li}].machines[${mi}].id: machine "${machine.id}" is defined twice`)
            this.machines.set(key, { zone, factory, line, machine })
          })
        })
      })
    })
    const zoneIds = new Set<string>()
    file.zones.forEach((zone, zi) => {
      if (zoneIds.has(zone.id)) problems.push(`zones[${zi}].id: zone "${zone.id}" is defined twice`)
      zoneIds.add(zone.id)
    })
    file.gateways.forEach((gateway, gi) => {
      const owner = this.factories.get(gateway.factory)
      if (!owner) problems.push(`gateways[${gi}].factory: unknown factory "${gateway.factory}"`)
      if (this.gateways.has(gateway.id)) problems.push(`gateways[${gi}].id: gateway "${gateway.id}" is defined twice`)
      if (owner) this.gateways.set(gateway.id, { gateway, zone: owner.zone.id, factory: owner.factory.id, sparkplugNodes: [] })
    })
    this.sparkplug = indexSparkplug(file, (id) => this.factories.get(id), (key) => this.machines.get(key), (id) => this.gateways.get(id)?.factory, problems)
    for (const [id, nodes] of this.sparkplug.byGateway) {
      const gw = this.gateways.get(id)
      if (gw) this.gateways.set(id, { ...gw, sparkplugNodes: nodes })
    }
    file.apiKeys.forEach((key, ki) => {
      if (this.apiKeys.has(key.id)) problems.push(`apiKeys[${ki}].id: key "${key.id}" is defined twice`)
      if ('zone' in key.scope && !zoneIds.has(key.scope.zone)) problems.push(`apiKeys[${ki}].scope.zone: unknown zone "${key.scope.zone}"`)
      if ('factory' in key.scope && !this.factories.has(key.scope.factory)) problems.push(`apiKeys[${ki}].scope.factory: unknown factory "${key.scope.factory}"`)
      this.apiKeys.set(key.id, key)
    })
    if (problems.length > 0) {
      throw new AppError('IIOT_ERR_REGISTRY_INVALID', `invalid registry:\n  ${problems.join('\n  ')}`, { details: problems })
    }
    this.apiKeyDecoy = decoyHash(mostCommonCost(file.apiKeys.map((k) => k.secretHash)))
    this.gatewayDecoy = decoyHash(mostCommonCost([...this.gateways.values()].map((g) => g.gateway.secretHash)))
  }

  /** Validates raw JSON (already parsed) into a registry; all problems reported at once. */
  static fromJson(raw: unknown): Registry {
    const parsed = registryFileSchema.safeParse(raw)
    if (!parsed.success) {
      const problems = parsed.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`)
      throw new AppError('IIOT_ERR_REGISTRY_INVALID', `invalid registry:\n  ${problems.join('\n  ')}`, { details: problems })
    }
    return new Registry(parsed.data)
  }

  get zones(): readonly ZoneDef[] {
    return this.file.zones
  }

  zone(id: string): ZoneDef | undefined {
    return this.file.zones.find((z) => z.id === id)
  }

  factory(id: string): FactoryEntry | undefined {
    return this.factories.get(id)
  }

  machine(zone: string, factory: string, line: string, machine: string): MachineEntry | undefined {
    return this.machines.get(machineKey(zone, factory, line, machine))
  }

  /** The same lookup by a key made with `machineKey`. */
  machineByKey(key: string): MachineEntry | undefined {
    return this.machines.get(key)
  }

  gateway(id: string): GatewayEntry | undefined {
    return this.gateways.get(id)
  }

  /** A Sparkplug edge node by group and edge node id. */
  sparkplugNode(group: string, edgeNode: string): SparkplugNodeEntry | undefined {
    return this.sparkplug.nodes.get(`${group}/${edgeNode}`)
  }

  /**
   * Checks a gateway's CONNECT credentials. An unknown id is checked against a decoy hash, as
   * API keys are: the CONNACK of an unknown gateway takes as long as a wrong secret's.
   */
  async authenticateGateway(id: string, secret: string): Promise<GatewayEntry | undefined> {
    const entry = this.gateways.get(id)
    const ok = await this.verifyCached(`gw:${id}`, secret, entry?.gateway.secretHash ?? this.gatewayDecoy)
    return ok ? entry : undefined
  }

  /** The gateway, if this exact id and secret already passed a full check since this registry was loaded; no scrypt (see provenApiKey). */
  provenGateway(id: string, secret: string): GatewayEntry | undefined {
    const entry = this.gateways.get(id)
    return entry && this.verified.has(cacheKey(`gw:${id}`, secret)) ? entry : undefined
  }

  /**
   * Checks an API key presented as `<key id>.<secret>`. An unknown id is
   * checked against a decoy hash of the same scrypt cost, so the answer takes
   * as long as for a known id with a wrong secret: timing does not tell which
   * ids exist (docs/security.md).
   */
  async authenticateApiKey(presented: string): Promise<ApiKeyEntry | undefined> {
    const key = parseApiKey(presented)
    if (!key) return undefined
    const def = this.apiKeys.get(key.id)
    const ok = await this.verifyCached(`key:${key.id}`, key.secret, def?.secretHash ?? this.apiKeyDecoy)
    return ok && def ? { id: key.id, scope: def.scope } : undefined
  }

  /**
   * The key, if this exact `<key id>.<secret>` already passed a full check
   * since this registry was loaded; no scrypt. Lets a known client through
   * while its address is throttled for failed checks, without giving a
   * guesser a check it has not earned.
   */
  provenApiKey(presented: string): ApiKeyEntry | undefined {
    const key = parseApiKey(presented)
    const def = key && this.apiKeys.get(key.id)
    return key && def && this.verified.has(cacheKey(`key:${key.id}`, key.secret)) ? { id: key.id, scope: def.scope } : undefined
  }

  private async verifyCached(prefix: string, secret: string, stored: string): Promise<boolean> {
    const key = cacheKey(prefix, secret)
    if (this.verified.has(key)) return true
    const ok = await verifySecret(secret, stored)
    if (ok) {
      if (this.verified.size >= VERIFIED_CACHE_MAX) this.verified.clear()
      this.verified.set(key, true)
    }
    return ok
  }
}

function cacheKey(prefix: string, secret: string): string {
  return `${prefix}:${createHash('sha256').update(secret).digest('base64')}`
}

/** The stored hash whose scrypt cost (N, r, p) most keys share; undefined without keys. */
function mostCommonCost(hashes: readonly string[]): string | undefined {
  const byCost = new Map<string, { hash: string; count: number }>()
  for (const hash of hashes) {
    const cost = hash.split('$').slice(0, 4).join('$')
    const e = byCost.get(cost) ?? { hash, count: 0 }
    e.count++
    byCost.set(cost, e)
  }
  return [...byCost.values()].sort((a, b) => b.count - a.count)[0]?.hash
}

