import { beforeEach, describe, expect, it, vi } from 'vitest'
import { Registry } from '../../src/registry/registry.js'
import type * as secretHash from '../../src/registry/secret-hash.js'
import { verifySecret } from '../../src/registry/secret-hash.js'
import { KEYS, SECRETS, testRegistry } from '../helpers/fixtures.js'

// The real scrypt check, watched: which stored hash each check runs against.
vi.mock('../../src/registry/secret-hash.js', async (importOriginal) => {
  const real = await importOriginal<typeof secretHash>()
  return { ...real, verifySecret: vi.fn(real.verifySecret) }
})

const costOf = (hash: string) => hash.split('$').slice(0, 4).join('$')
const verify = vi.mocked(verifySecret)

describe('API key checks', () => {
  let registry: Registry
  beforeEach(async () => {
    registry = Registry.fromJson(await testRegistry())
    verify.mockClear()
  })

  it('an unknown key id runs the same scrypt check as a wrong secret, so timing does not tell which ids exist', async () => {
    expect(await registry.authenticateApiKey('ops.wrong-secret')).toBeUndefined()
    expect(await registry.authenticateApiKey('nobody.wrong-secret')).toBeUndefined()
    expect(verify).toHaveBeenCalledTimes(2)
    const [[, known], [, decoy]] = verify.mock.calls as [[string, string], [string, string]]
    expect(costOf(decoy)).toBe(costOf(known))
    expect(decoy).not.toBe(known)
    const [, , , , salt, hash] = decoy.split('$')
    expect(Buffer.from(salt!, 'base64')).toHaveLength(16)
    expect(Buffer.from(hash!, 'base64')).toHaveLength(Buffer.from(known.split('$')[5]!, 'base64').length)
  })

  it('the decoy never lets anyone in, whatever the secret', async () => {
    const decoyCalls = async (presented: string) => {
      verify.mockClear()
      const entry = await registry.authenticateApiKey(presented)
      return { entry, checks: verify.mock.calls.length }
    }
    expect(await decoyCalls(`nobody.${SECRETS.keyAll}`)).toEqual({ entry: undefined, checks: 1 })
    expect(await decoyCalls(`nobody.`)).toEqual({ entry: undefined, checks: 1 })
  })

  it('a proven key is known without scrypt; an unproven one is not', async () => {
    expect(registry.provenApiKey(KEYS.all)).toBeUndefined()
    expect(await registry.authenticateApiKey(KEYS.all)).toMatchObject({ id: 'ops' })
    verify.mockClear()
    expect(registry.provenApiKey(KEYS.all)).toMatchObject({ id: 'ops', scope: { all: true } })
    expect(registry.provenApiKey('ops.wrong-secret')).toBeUndefined()
    expect(registry.provenApiKey(KEYS.factoryA)).toBeUndefined()
    expect(verify).not.toHaveBeenCalled()
  })
})
