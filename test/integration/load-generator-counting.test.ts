import { createServer, type AddressInfo, type Server } from 'node:net'
import { Aedes } from 'aedes'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { LoadGenerator, type LoadGateway } from '../../bench/lib/load-generator.js'
import { eventually } from '../helpers/service.js'

// The bench's own counting (storm): a gateway counts as reconnected only through a CONNACK
// received after the cut. Regression: the storm bench reported 2,000 of 2,000 gateways back
// in 0.06 s, counting clients whose destroyed sockets mqtt.js had not yet seen close.
let broker: Aedes
let server: Server
let url: string

beforeAll(async () => {
  broker = await Aedes.createBroker({ authenticate: (_c, _u, _p, cb) => cb(null, true) })
  server = createServer((socket) => broker.handle(socket))
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  url = `mqtt://127.0.0.1:${(server.address() as AddressInfo).port}`
})

afterAll(async () => {
  await new Promise<void>((resolve) => broker.close(() => resolve()))
  await new Promise<void>((resolve) => server.close(() => resolve()))
})

const gateways: LoadGateway[] = Array.from({ length: 40 }, (_, i) => ({ id: `gw-${i}`, secret: 's', zone: 'z', factory: 'f', machines: [{ line: 'l', machine: `m-${i}` }] }))

describe('load generator: reconnection counting', () => {
  it('counts a gateway as back only after a CONNACK that follows the cut', async () => {
    // A long reconnect period: after the cut, nobody can be back for a while.
    const gen = new LoadGenerator({ url, gateways, messagesPerSecond: 0, samplesPerMessage: 1, qos: 1, reconnectPeriodMs: 1500 })
    try {
      await gen.connect()
      expect(gen.connectedCount()).toBe(40)
      const mark = gen.connectionMark()
      expect(gen.reconnectedSince(mark)).toBe(0)
      const cut = await gen.dropConnections()
      expect(cut).toBe(40)
      // Every cut socket has been seen closed: none reads as connected, none as reconnected.
      expect(gen.connectedCount()).toBe(0)
      expect(gen.reconnectedSince(mark)).toBe(0)
      await eventually(() => gen.reconnectedSince(mark) === 40, 15_000)
      expect(gen.connectedCount()).toBe(40)
    } finally {
      await gen.stop(1000)
      await gen.disconnect()
    }
  })

  it('a destroyed socket still reads as connected until its close is processed (why the mark is needed)', async () => {
    const gen = new LoadGenerator({ url, gateways: gateways.slice(0, 5), messagesPerSecond: 0, samplesPerMessage: 1, qos: 1, reconnectPeriodMs: 1500 })
    try {
      await gen.connect()
      const mark = gen.connectionMark()
      const dropping = gen.dropConnections()
      // Synchronously after destroy(): mqtt.js has not processed the close yet.
      expect(gen.connectedCount()).toBe(5)
      expect(gen.reconnectedSince(mark)).toBe(0)
      await dropping
    } finally {
      await gen.stop(1000)
      await gen.disconnect()
    }
  })
})
