import { describe, expect, it } from 'vitest'
import { addLine, check, normalize } from '../../src/registry/registry-editor.js'
import { buildDemoRegistry } from '../../src/registry/demo-registry.js'
import { Registry } from '../../src/registry/registry.js'
import { sparkplugRegistry } from '../helpers/sparkplug.js'

describe('registry edits keep the Sparkplug section', () => {
  it('an edit through the registry CLI does not drop the Sparkplug mapping', async () => {
    const raw = await sparkplugRegistry()
    const doc = normalize(raw as never)
    addLine(doc, 'fa', 'l9')
    const after = Registry.fromJson(check(doc))
    expect(after.sparkplugNode('plant-a', 'edge-1')?.devices.get('press-1')?.machine.id).toBe('m1')
  })

  it('the demo registry maps each factory as a Sparkplug group, its gateway as the edge node, each machine as a device', async () => {
    const { doc } = await buildDemoRegistry({ zones: 1, factoriesPerZone: 1, linesPerFactory: 1, machinesPerLine: 2 }, 'mqtt://127.0.0.1:1')
    const reg = Registry.fromJson(doc)
    const node = reg.sparkplugNode('z1-f1', 'gw-z1-f1')!
    expect(node.gateway).toBe('gw-z1-f1')
    expect([...node.devices.keys()]).toEqual(['line-1.m-1', 'line-1.m-2'])
    expect(node.mapping?.state?.metric).toBe('State')
  })
})
