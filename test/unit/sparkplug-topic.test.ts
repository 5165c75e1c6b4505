import { describe, expect, it } from 'vitest'
import { Registry } from '../../src/registry/registry.js'
import { mayPublishSparkplug, maySubscribeSparkplug, parseSparkplugTopic } from '../../src/sparkplug/topic.js'
import { testRegistry } from '../helpers/fixtures.js'
import { sparkplugRegistry } from '../helpers/sparkplug.js'

describe('Sparkplug topics', () => {
  it('parses node and device topics and refuses what is not one', () => {
    expect(parseSparkplugTopic('spBv1.0/g/NDATA/e')).toEqual({ ok: true, topic: { group: 'g', type: 'NDATA', edgeNode: 'e', device: undefined } })
    expect(parseSparkplugTopic('spBv1.0/g/DBIRTH/e/d 1')).toEqual({ ok: true, topic: { group: 'g', type: 'DBIRTH', edgeNode: 'e', device: 'd 1' } })
    for (const bad of ['spBv1.0/g/DDATA/e', 'spBv1.0/g/NDATA/e/d', 'spBv1.0/g/XDATA/e', 'spBv1.0/STATE/host', 'spBv1.0/g/NDATA', 'spBv1.0/g/NDATA/e/d/x']) {
      expect(parseSparkplugTopic(bad).ok, bad).toBe(false)
    }
  })

  it('an edge node publishes only its own births, data and deaths, and subscribes only to its commands and STATE', () => {
    const nodes = ['plant-a/edge-1']
    for (const t of ['NBIRTH', 'NDATA', 'NDEATH']) expect(mayPublishSparkplug(nodes, `spBv1.0/plant-a/${t}/edge-1`)).toBe(true)
    expect(mayPublishSparkplug(nodes, 'spBv1.0/plant-a/DDATA/edge-1/press-1')).toBe(true)
    expect(mayPublishSparkplug(nodes, 'spBv1.0/plant-a/NDATA/edge-2')).toBe(false)
    expect(mayPublishSparkplug(nodes, 'spBv1.0/plant-b/NDATA/edge-1')).toBe(false)
    expect(mayPublishSparkplug(nodes, 'spBv1.0/plant-a/NCMD/edge-1')).toBe(false)
    expect(mayPublishSparkplug(nodes, 'spBv1.0/STATE/iiot-ingest')).toBe(false)
    expect(mayPublishSparkplug(undefined, 'spBv1.0/plant-a/NDATA/edge-1')).toBe(false)
    expect(maySubscribeSparkplug(nodes, 'spBv1.0/plant-a/NCMD/edge-1')).toBe(true)
    expect(maySubscribeSparkplug(nodes, 'spBv1.0/plant-a/NCMD/edge-1/#')).toBe(true)
    expect(maySubscribeSparkplug(nodes, 'spBv1.0/plant-a/DCMD/edge-1/#')).toBe(true)
    expect(maySubscribeSparkplug(nodes, 'spBv1.0/STATE/iiot-ingest')).toBe(true)
    expect(maySubscribeSparkplug(nodes, 'spBv1.0/STATE/#')).toBe(false)
    expect(maySubscribeSparkplug(nodes, 'spBv1.0/plant-a/NCMD/edge-2')).toBe(false)
    expect(maySubscribeSparkplug(nodes, 'spBv1.0/plant-a/NDATA/edge-1')).toBe(false)
    expect(maySubscribeSparkplug(nodes, 'spBv1.0/#')).toBe(false)
    expect(maySubscribeSparkplug(nodes, 'spBv1.0/+/NCMD/edge-1')).toBe(false)
    // A gateway that is no edge node reads nothing under spBv1.0, the host's STATE included.
    expect(maySubscribeSparkplug([], 'spBv1.0/STATE/iiot-ingest')).toBe(false)
  })
})

describe('Sparkplug registry mapping', () => {
  it('maps group -> factory, edge node -> gateway, device -> machine; a registry without Sparkplug still loads', async () => {
    const reg = Registry.fromJson(await sparkplugRegistry())
    const node = reg.sparkplugNode('plant-a', 'edge-1')!
    expect(node).toMatchObject({ zone: 'za', factory: 'fa', gateway: 'gw-a' })
    expect(node.machine?.machine.id).toBe('m2')
    expect(node.devices.get('press-1')?.machine.id).toBe('m1')
    expect(reg.gateway('gw-a')?.sparkplugNodes).toEqual(['plant-a/edge-1'])
    expect(reg.gateway('gw-b')?.sparkplugNodes).toEqual([])
    expect(Registry.fromJson(await testRegistry()).sparkplugNode('plant-a', 'edge-1')).toBeUndefined()
  })

  it('reports every bad reference at once', async () => {
    const raw = await sparkplugRegistry()
    const sp = raw['sparkplug'] as { groups: Array<Record<string, unknown>> }
    sp.groups.push({ id: 'plant-b', factory: 'nope', edgeNodes: [] })
    sp.groups.push({ id: 'plant-c', factory: 'fa', edgeNodes: [{ id: 'e', gateway: 'gw-b', devices: [{ id: 'd', line: 'l1', machine: 'm9' }] }] })
    expect(() => Registry.fromJson(raw)).toThrow(/unknown factory "nope"[\s\S]*belongs to another factory[\s\S]*machine "l1\/m9" is not in factory "fa"/)
  })
})
