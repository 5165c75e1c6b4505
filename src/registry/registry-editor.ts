import { AppError } from '../errors.js'
import { Registry } from './registry.js'
import type { ApiKeyScope, RegistryFileInput } from './registry-schema.js'
import { mosquittoHash } from './mosquitto-hash.js'
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

/**
 * Gives a gateway a new secret (random unless `chosen`); returns it, to be shown once. Its factory and
 * the Sparkplug edge nodes that name it stay as they are. A Mosquitto hash it had is remade from the
 * new secret, and one is made with `brokerHash`: a hash kept from the old secret would still let
 * that secret in to Mosquitto (docs/scaling-out.md).
 */
export async function rotateGatewaySecret(doc: RegistryDoc, id: string, opts: { chosen?: string | undefined; brokerHash?: boolean } = {}): Promise<string> {
  const gw = doc.gateways.find((g) => g.id === id) ?? fail(`unknown gateway "${id}"`)
  const secret = opts.chosen ?? newSecret()
  gw.secretHash = await hashSecret(secret)
  if (gw.brokerHash !== undefined || opts.brokerHash) gw.brokerHash = await mosquittoHash(secret)
  check(doc)
  return secret
}

/** Gives an API key a new secret (random unless `chosen`), keeping its id, name and scope; returns the full key `<id>.<secret>`, shown once. */
export async function rotateApiKey(doc: RegistryDoc, id: string, chosen?: string | undefined): Promise<string> {
  const key = doc.apiKeys.find((k) => k.id === id) ?? fail(`unknown API key "${id}"`)
  const secret = chosen ?? newSecret()
  key.secretHash = await hashSecret(secret)
  check(doc)
  return `${id}.${secret}`
}

/**
 * A secret an operator chose (`--secret-stdin`): at least 16 characters, none of them whitespace
 * or control characters (an API key travels in an `Authorization: Bearer` header, and a secret
 * with a stray space or line end is a secret nobody types twice the same).
 */
export function checkChosenSecret(secret: string): string {
  if (secret.length < 16) fail(`a chosen secret must be at least 16 characters long, got ${secret.length}`)
  if (secret.length > 1024) fail(`a chosen secret must be at most 1024 characters long, got ${secret.length}`)
  // eslint-disable-next-line no-control-regex
  if (/[\s\x00-\x1f\x7f]/.test(secret)) fail('a chosen secret must not contain whitespace or control characters')
  return secret
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
