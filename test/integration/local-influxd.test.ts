import { createServer, type Server } from 'node:net'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { freePort, startLocalInfluxd } from '../../src/devtools/local-influxd.js'

/**
 * A port found free can be taken before influxd binds it (parallel test files do it): the start
 * picks new ports and tries again, and stops everything it started on the way.
 */
describe('a throwaway influxd', () => {
  const cleanup: (() => Promise<unknown>)[] = []
  afterAll(async () => {
    for (const c of cleanup.reverse()) await c()
  })

  it('starts on other ports when the first one it picked was taken meanwhile', async () => {
    // Another process's port; the start's readiness probe may knock on it, and is turned away.
    const taken: Server = createServer((socket) => socket.destroy())
    await new Promise<void>((resolve) => taken.listen(0, '127.0.0.1', resolve))
    cleanup.push(() => new Promise((resolve) => taken.close(resolve)))
    const takenPort = (taken.address() as { port: number }).port
    const dir = await mkdtemp(join(tmpdir(), 'iiot-influxd-port-'))
    cleanup.push(() => rm(dir, { recursive: true, force: true }))
    let picks = 0
    const influxd = await startLocalInfluxd({ dataDir: dir, pickPort: async () => (picks++ === 0 ? takenPort : freePort()) })
    cleanup.push(() => influxd.stop())
    expect(influxd.port).not.toBe(takenPort)
    expect(picks).toBe(4)
    expect((await fetch(`${influxd.url}/ping`)).status).toBe(204)
  })
})
