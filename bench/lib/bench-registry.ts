import { demoDeviceId } from '../../src/registry/demo-registry.js'
import { check, emptyRegistry, type RegistryDoc } from '../../src/registry/registry-editor.js'
import { hashSecret, newSecret } from '../../src/registry/secret-hash.js'
import type { LoadGateway } from './load-generator.js'

/**
 * A registry shaped like the demo one (zone z1, factories z1-f1.., one line
 * `line-1` with machines m-1.., one gateway `gw-<factory>` per factory, one
 * API key with scope "all"), built in one pass and validated once, with the
 * scrypt cost `hashN` (same `scrypt$N$r$p$salt$hash` format as the registry
 * CLI). The demo builder validates after every edit and hashes at N=16384,
 * which for thousands of gateways takes minutes; benches of connection
 * storms use a lower N (the service verifies whatever N the hash names).
 */
export async function buildBenchRegistry(opts: { gateways: number; machinesPerGateway: number; hashN: number }): Promise<{ doc: RegistryDoc; gateways: LoadGateway[]; apiKey: string }> {
  const params = { N: opts.hashN, r: 8, p: 1 }
  const doc = emptyRegistry()
  const zone = { id: 'z1', name: 'Bench zone', factories: [] as RegistryDoc['zones'][number]['factories'] }
  doc.zones.push(zone)
  const machines = Array.from({ length: opts.machinesPerGateway }, (_, m) => ({ id: `m-${m + 1}`, idealCycleTimeS: 6 + (m % 10) }))
  const gateways: LoadGateway[] = []
  const secrets: string[] = []
  for (let f = 1; f <= opts.gateways; f++) {
    const factory = `z1-f${f}`
    zone.factories.push({ id: factory, name: `Factory ${f}`, timezone: 'Asia/Ho_Chi_Minh', shifts: [], lines: [{ id: 'line-1', machines: machines.map((m) => ({ ...m })) }] })
    const secret = newSecret()
    secrets.push(secret)
    gateways.push({ id: `gw-${factory}`, secret, zone: 'z1', factory, machines: machines.map((m) => ({ line: 'line-1', machine: m.id })) })
  }
  // scrypt runs on libuv's thread pool: a few at a time keep it busy without queueing thousands.
  const hashes = new Array<string>(gateways.length)
  let next = 0
  await Promise.all(
    Array.from({ length: 4 }, async () => {
      while (next < gateways.length) {
        const i = next++
        hashes[i] = await hashSecret(secrets[i]!, params)
      }
    }),
  )
  gateways.forEach((g, i) => doc.gateways.push({ id: g.id, factory: g.factory, secretHash: hashes[i]! }))
  // Every gateway may also be a Sparkplug edge node (`--protocol sparkplug`, sparkplug-load.ts).
  doc.sparkplug = { groups: gateways.map((g) => ({ id: g.factory, factory: g.factory, edgeNodes: [{ id: g.id, gateway: g.id, devices: g.machines.map((m) => ({ id: demoDeviceId(m.line, m.machine), line: m.line, machine: m.machine })) }] })) }
  const keySecret = newSecret()
  doc.apiKeys.push({ id: 'bench-admin', name: 'bench key with access to everything', secretHash: await hashSecret(keySecret, params), scope: { all: true } })
  check(doc)
  return { doc, gateways, apiKey: `bench-admin.${keySecret}` }
}
