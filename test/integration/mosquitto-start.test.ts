import { createServer, type Server } from 'node:net'
import mqtt from 'mqtt'
import { afterAll, describe, expect, it } from 'vitest'
import { freePort } from '../../src/devtools/local-influxd.js'
import { mosquittoHash } from '../../src/registry/mosquitto-hash.js'
import { startTestMosquitto } from '../helpers/mosquitto.js'

/**
 * mosquitto has no port 0: a port found free can be taken before it binds it. The start waits for mosquitto's own
 * word that its listener is bound (a connect could reach the other process), picks a new port and tries again.
 */
describe('the test mosquitto', () => {
  const cleanup: (() => Promise<unknown>)[] = []
  afterAll(async () => {
    for (const c of cleanup.reverse()) await c()
  })

  it('starts on another port when the first one it picked was taken meanwhile, and is the broker there', async () => {
    const taken: Server = createServer((socket) => socket.destroy())
    await new Promise<void>((resolve) => taken.listen(0, '127.0.0.1', resolve))
    cleanup.push(() => new Promise((resolve) => taken.close(resolve)))
    const takenPort = (taken.address() as { port: number }).port
    let picks = 0
    const files = { passwd: `probe:${await mosquittoHash('probe-secret', 1000)}\n`, acl: 'user probe\ntopic readwrite probe/#\n' }
    const broker = await startTestMosquitto(files, undefined, { pickPort: async () => (picks++ === 0 ? takenPort : freePort()) })
    cleanup.push(() => broker.dispose())
    expect(broker.port).not.toBe(takenPort)
    expect(picks).toBe(2)
    const client = await mqtt.connectAsync(broker.url, { username: 'probe', password: 'probe-secret', reconnectPeriod: 0 })
    cleanup.push(() => client.endAsync())
    const got = new Promise<string>((resolve) => client.once('message', (_t, p) => resolve(p.toString())))
    await client.subscribeAsync('probe/echo', { qos: 1 })
    await client.publishAsync('probe/echo', 'hello', { qos: 1 })
    expect(await got).toBe('hello')
  })
})
