import { describe, expect, it } from 'vitest'
import { Registry } from '../../src/registry/registry.js'
import { testRegistry } from '../helpers/fixtures.js'

const withProducts = async (products: unknown) => {
  const reg = (await testRegistry()) as { zones: { factories: Record<string, unknown>[] }[] }
  reg.zones[0]!.factories[0]!.products = products
  return reg
}

describe('registry: bills of materials', () => {
  it('loads a registry without products as before (none configured)', async () => {
    const r = Registry.fromJson(await testRegistry())
    expect(r.factory('fa')!.factory.products).toEqual([])
  })

  it('keeps each product with its bill of materials', async () => {
    const r = Registry.fromJson(await withProducts([{ id: 'shaft-assy', bom: [{ material: 'bolt', quantity: 2, unit: 'pcs' }] }]))
    expect(r.factory('fa')!.factory.products).toEqual([{ id: 'shaft-assy', bom: [{ material: 'bolt', quantity: 2, unit: 'pcs' }] }])
  })

  it('reports every bad line of a bill at once, with its path', async () => {
    const bad = await withProducts([{ id: 'p 1', bom: [{ material: 'bolt', quantity: 0, unit: 'pcs' }, { material: 'steel', quantity: 1, unit: 'furlong' }] }])
    let details: readonly string[] = []
    try {
      Registry.fromJson(bad)
    } catch (err) {
      details = (err as { details: readonly string[] }).details
    }
    expect(details.map((d) => d.split(':')[0])).toEqual(['zones.0.factories.0.products.0.id', 'zones.0.factories.0.products.0.bom.0.quantity', 'zones.0.factories.0.products.0.bom.1.unit'])
  })
})
