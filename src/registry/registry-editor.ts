import { AppError } from '../errors.js'
import { Registry } from './registry.js'
import type { ApiKeyScope, RegistryFileInput } from './registry-schema.js'
import { hashSecret, newSecret } from './secret-hash.js'

/**
 * Edits of the registry file, each validated by building a Registry from the
 * result: an edit that would make the file invalid fails and changes nothing.
 */
export type RegistryDoc = {
  zones: { id: string; name?: string | undefined; factories: FactoryDoc[] }[]
  gateways: { id: string; factory: string; secretHash: string; brokerHash?: string }[]
  apiKeys: { id: string; name?: string | undefined; secretHash: string; scope: ApiKeyScope }[]
  /** Kept as it is: the CLI does not edit the Sparkplug mapping (docs/sparkplug.md). */
  sparkplug?: RegistryFileInput['sparkplug']
}
type FactoryDoc = { id: string; name?: string | undefined; timezone?: string; shifts?: { name: string; start: string; end: string }[]; lines: LineDoc[] }
type LineDoc = { id: string; name?: string | undefined; machines: { id: string; name?: string | undefined; idealCycleTimeS: number }[] }

export function emptyRegistry(): RegistryDoc {
  return { zones: [], gateways: [], apiKeys: [] }
}

export function normalize(raw: RegistryFileInput): RegistryDoc {
  return { zones: (raw.zones ?? []) as RegistryDoc['zones'], gateways: raw.gateways ?? [], apiKeys: (raw.apiKeys ?? []) as RegistryDoc['apiKeys'], ...(raw.sparkplug ? { sparkplug: raw.sparkplug } : {}) }
}

/** Throws IIOT_ERR_REGISTRY_INVALID with every problem when the document is not a valid registry. */
export function check(doc: RegistryDoc): RegistryDoc {
  Registry.fromJson(doc)
  return doc
}

function fail(message: string): never {
  throw new AppError('IIOT_ERR_REGISTRY_INVALID', message)
}

function factoryOf(doc: RegistryDoc, id: string): FactoryDoc {
  for (const z of doc.zones) for (const f of z.factories) if (f.id === id) return f
  return fail(`unknown factory "${id}"`)
}

export function addZone(doc: RegistryDoc, id: string, name?: string): RegistryDoc {
  doc.zones.push({ id, name, factories: [] })
  return check(doc)
}

export function addFactory(doc: RegistryDoc, zone: string, f: { id: string; name?: string; timezone?: string; shifts?: FactoryDoc['shifts'] }): RegistryDoc {
  const z = doc.zones.find((x) => x.id === zone) ?? fail(`unknown zone "${zone}"`)
  z.factories.push({ ...f, lines: [] })
  return check(doc)
}

export function addLine(doc: RegistryDoc, factory: string, id: string, name?: string): RegistryDoc {
  factoryOf(doc, factory).lines.push({ id, name, machines: [] })
  return check(doc)
}

export function addMachine(doc: RegistryDoc, factory: string, line: string, m: { id: string; name?: string; idealCycleTimeS: number }): RegistryDoc {
  const l = factoryOf(doc, factory).lines.find((x) => x.id === line) ?? fail(`unknown line "${line}" in factory "${factory}"`)
  l.machines.push(m)
  return check(doc)
}

/** Adds a gateway; returns the secret, which is shown once and stored only as a hash. */
export async function addGateway(doc: RegistryDoc, id: string, factory: string): Promise<string> {
  const secret = newSecret()
  doc.gateways.push({ id, factory, secretHash: await hashSecret(secret) })
  check(doc)
  return secret
}

/** Adds an API key; returns the full key `<id>.<secret>`, shown once. */
export async function addApiKey(doc: RegistryDoc, id: string, scope: ApiKeyScope, name?: string): Promise<string> {
  const secret = newSecret()
  doc.apiKeys.push({ id, name, secretHash: await hashSecret(secret), scope })
  check(doc)
  return `${id}.${secret}`
}

export function removeGateway(doc: RegistryDoc, id: string): RegistryDoc {
  const before = doc.gateways.length
  doc.gateways = doc.gateways.filter((g) => g.id !== id)
  if (doc.gateways.length === before) fail(`unknown gateway "${id}"`)
  return check(doc)
}

export function removeApiKey(doc: RegistryDoc, id: string): RegistryDoc {
  const before = doc.apiKeys.length
  doc.apiKeys = doc.apiKeys.filter((k) => k.id !== id)
  if (doc.apiKeys.length === before) fail(`unknown API key "${id}"`)
  return check(doc)
}

/** Parses `all`, `zone:<id>` or `factory:<id>`. */
export function parseScope(text: string): ApiKeyScope {
  if (text === 'all') return { all: true }
  const [kind, id] = text.split(':')
  if (kind === 'zone' && id) return { zone: id }
  if (kind === 'factory' && id) return { factory: id }
  return fail(`scope must be "all", "zone:<id>" or "factory:<id>", got "${text}"`)
}
