import { describe, expect, it } from 'vitest'
import { resolveScope } from '../../src/api/scope.js'
import type { AppError } from '../../src/errors.js'
import { Registry } from '../../src/registry/registry.js'
import { addApiKey, addGateway, emptyRegistry, parseScope } from '../../src/registry/registry-editor.js'
import { hashSecret, verifySecret } from '../../src/registry/secret-hash.js'
import { FAST, KEYS, SECRETS, testRegistry } from '../helpers/fixtures.js'

function issues(raw: unknown): string[] {
  try {
    Registry.fromJson(raw)
  } catch (err) {
    return [...((err as AppError).details ?? [])]
  }
  return []
}

describe('registry validation', () => {
  it('accepts the test registry and finds its parts', async () => {
    const r = Registry.fromJson(await testRegistry())
    expect(r.machine('za', 'fa', 'l1', 'm2')?.machine.idealCycleTimeS).toBe(12)
    expect(r.machine('zb', 'fa', 'l1', 'm2')).toBeUndefined()
    expect(r.gateway('gw-b')).toMatchObject({ zone: 'zb', factory: 'fb' })
    expect(r.factory('fa')?.factory.timezone).toBe('Asia/Ho_Chi_Minh')
  })

  it('reports every problem with its path', () => {
    const p = issues({
      zones: [
        { id: 'Zone A', factories: [] },
        { id: 'z', factories: [{ id: 'f', timezone: 'Mars/Olympus', lines: [{ id: 'l', machines: [{ id: 'm', idealCycleTimeS: -1 }] }] }] },
      ],
      gateways: [{ id: 'g', factory: 'f', secretHash: 'plain' }],
    })
    expect(p.some((x) => x.startsWith('zones.0.id'))).toBe(true)
    expect(p.some((x) => x.startsWith('zones.1.factories.0.timezone'))).toBe(true)
    expect(p.some((x) => x.includes('idealCycleTimeS'))).toBe(true)
    expect(p.some((x) => x.startsWith('gateways.0.secretHash'))).toBe(true)
  })

  it('catches dangling references and duplicates', async () => {
    const base = await testRegistry()
    const gateways = [...(base.gateways as object[]), { id: 'gw-x', factory: 'nowhere', secretHash: (base.gateways as { secretHash: string }[])[0]!.secretHash }]
    expect(issues({ ...base, gateways })).toEqual(['gateways[2].factory: unknown factory "nowhere"'])
    const apiKeys = [...(base.apiKeys as object[]), { id: 'ops', secretHash: (base.gateways as { secretHash: string }[])[0]!.secretHash, scope: { zone: 'zz' } }]
    expect(issues({ ...base, apiKeys })).toEqual(['apiKeys[3].id: key "ops" is defined twice', 'apiKeys[3].scope.zone: unknown zone "zz"'])
  })
})

describe('secrets', () => {
  it('verifies with scrypt and refuses near misses', async () => {
    const h = await hashSecret('s3cret', FAST)
    expect(h).toMatch(/^scrypt\$1024\$8\$1\$/)
    expect(await verifySecret('s3cret', h)).toBe(true)
    expect(await verifySecret('s3cret ', h)).toBe(false)
    expect(await verifySecret('s3cret', 'garbage')).toBe(false)
  })

  it('authenticates gateways and API keys from the registry', async () => {
    const r = Registry.fromJson(await testRegistry())
    expect((await r.authenticateGateway('gw-a', SECRETS.gwA))?.factory).toBe('fa')
    expect(await r.authenticateGateway('gw-a', SECRETS.gwB)).toBeUndefined()
    expect((await r.authenticateApiKey(KEYS.factoryA))?.scope).toEqual({ factory: 'fa' })
    expect((await r.authenticateApiKey(KEYS.factoryA))?.id).toBe('eng-a') // cached path
    expect(await r.authenticateApiKey('eng-a.wrong')).toBeUndefined()
  })

  it('the editor adds gateways and keys whose secrets verify, and parses scopes', async () => {
    const doc = emptyRegistry()
    doc.zones.push({ id: 'z', factories: [{ id: 'f', lines: [] }] })
    const secret = await addGateway(doc, 'gw', 'f')
    const key = await addApiKey(doc, 'k', parseScope('factory:f'))
    const r = Registry.fromJson(doc)
    expect(await r.authenticateGateway('gw', secret)).toBeDefined()
    expect((await r.authenticateApiKey(key))?.scope).toEqual({ factory: 'f' })
    expect(() => parseScope('factory')).toThrow(/scope must be/)
    await expect(addGateway(doc, 'gw2', 'nope')).rejects.toThrow(/unknown factory/)
  })
})

describe('resolveScope', () => {
  it('narrows to the key and refuses what lies outside it', async () => {
    const r = Registry.fromJson(await testRegistry())
    const factoryKey = { id: 'k', scope: { factory: 'fa' } as const }
    const zoneKey = { id: 'k', scope: { zone: 'zb' } as const }
    const all = { id: 'k', scope: { all: true } as const }
    expect(resolveScope(r, factoryKey, {})).toEqual({ zone: 'za', factory: 'fa', line: undefined, machine: undefined })
    expect(resolveScope(r, zoneKey, {})).toMatchObject({ zone: 'zb', factory: undefined })
    expect(resolveScope(r, all, { factory: 'fb' })).toMatchObject({ zone: 'zb', factory: 'fb' })
    const status = (fn: () => unknown) => {
      try {
        fn()
        return 200
      } catch (err) {
        return (err as AppError).status
      }
    }
    expect(status(() => resolveScope(r, factoryKey, { factory: 'fb' }))).toBe(403)
    expect(status(() => resolveScope(r, zoneKey, { factory: 'fa' }))).toBe(403)
    expect(status(() => resolveScope(r, all, { factory: 'zz' }))).toBe(404)
    expect(status(() => resolveScope(r, all, { line: 'l1' }))).toBe(400)
  })
})
