import { createServer, type Server } from 'node:net'
import type { AddressInfo } from 'node:net'
import { Aedes } from 'aedes'
import { afterEach, describe, expect, it } from 'vitest'
import { messageTypes } from '../../src/pipeline/proto-schema.js'
import { createSparkplugGatewayClient } from '../../src/simulator/sparkplug-gateway-client.js'
import { createStats } from '../../src/simulator/stats.js'

let server: Server | undefined
let broker: Aedes | undefined
afterEach(async () => {
  await new Promise((r) => (broker ? broker.close(() => r(undefined)) : r(undefined)))
  await new Promise((r) => (server ? server.close(() => r(undefined)) : r(undefined)))
})

describe('simulated Sparkplug edge node: stopping', () => {
  it('ends by its deadline when the broker never acknowledges its NDEATH (as when the broker stops at the same moment)', async () => {
    // A broker that takes every publish but the NDEATH, which it never acknowledges.
    broker = await Aedes.createBroker({ authorizePublish: (_client, packet, callback) => void (packet.topic.includes('/NDEATH/') ? undefined : callback(null)) })
    server = createServer(broker.handle)
    await new Promise<void>((r) => server!.listen(0, '127.0.0.1', r))
    const url = `mqtt://127.0.0.1:${(server.address() as AddressInfo).port}`
    const lines: string[] = []
    const client = createSparkplugGatewayClient({ url, gateway: { id: 'gw-a', secret: 's', zone: 'za', factory: 'fa' }, qos: 1, types: messageTypes(), stats: createStats(), log: (l) => lines.push(l), reconnectPeriodMs: 100 })
    const deadline = Date.now() + 5000
    while (!client.isConnected() && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20))
    expect(client.isConnected()).toBe(true)
    const started = performance.now()
    await client.end(300)
    expect(performance.now() - started).toBeLessThan(2000)
    expect(client.isConnected()).toBe(false)
  })
})
