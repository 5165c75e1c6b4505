import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import pino from 'pino'
import { describe, expect, it } from 'vitest'
import { RegistryStore } from '../../src/registry/registry-store.js'
import { testRegistry } from '../helpers/fixtures.js'
import { useTempDir } from '../helpers/temp-dir.js'

let dir = ''
useTempDir('iiot-reg-', (d) => (dir = d))

describe('registry reloads', () => {
  it('reports each outcome, keeping the previous registry when the file is bad', async () => {
    const file = join(dir, 'registry.json')
    const registry = await testRegistry()
    await writeFile(file, JSON.stringify(registry))
    const outcomes: string[] = []
    const store = await RegistryStore.open(file, pino({ level: 'silent' }), (o) => outcomes.push(o))
    await writeFile(file, '{ not json')
    expect(await store.reload()).toBe(false)
    expect(store.current().file.gateways).toHaveLength(2)
    await writeFile(file, JSON.stringify({ ...registry, gateways: (registry.gateways as unknown[]).slice(0, 1) }))
    expect(await store.reload()).toBe(true)
    expect(store.current().file.gateways).toHaveLength(1)
    expect(outcomes).toEqual(['failed', 'ok'])
  })
})
