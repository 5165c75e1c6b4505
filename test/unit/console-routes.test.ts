import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import Fastify from 'fastify'
import { afterEach, describe, expect, it } from 'vitest'
import { CONSOLE_CSP, consoleRoutes } from '../../src/console/console-routes.js'

// The console's server side through inject(), on a folder the test writes (docs/console.md).
const dirs: string[] = []
afterEach(async () => {
  for (const d of dirs.splice(0)) await rm(d, { recursive: true, force: true })
})

async function app(files: Record<string, string>) {
  const dir = await mkdtemp(join(tmpdir(), 'iiot-console-'))
  dirs.push(dir)
  for (const [name, text] of Object.entries(files)) await writeFile(join(dir, name), text)
  // As in src/api/app.ts.
  const a = Fastify({ routerOptions: { ignoreTrailingSlash: true } })
  await a.register(consoleRoutes, { dir, offlineAfterMs: 300_000 })
  return a
}

describe('console routes', () => {
  it('serve the page revalidated and hashed bundles for a year, all under the strict CSP', async () => {
    const a = await app({ 'index.html': '<!doctype html><title>x</title>', 'app-ABCDEFG2.js': 'export {}', 'notes.txt': 'x' })
    for (const url of ['/console/', '/console']) {
      const page = await a.inject(url)
      expect([url, page.statusCode, page.headers['cache-control'], page.headers['content-security-policy']]).toEqual([url, 200, 'no-cache', CONSOLE_CSP])
      expect(page.body).toContain('<title>x</title>')
    }
    const js = await a.inject('/console/app-ABCDEFG2.js')
    expect([js.statusCode, js.headers['cache-control'], js.headers['content-security-policy']]).toEqual([200, 'public, max-age=31536000, immutable', CONSOLE_CSP])
    // A file without a content hash may change under the same name: revalidated.
    expect((await a.inject('/console/notes.txt')).headers['cache-control']).toBe('no-cache')
    expect((await a.inject('/console/config.json')).json()).toEqual({ offlineAfterS: 300 })
    const root = await a.inject('/')
    expect([root.statusCode, root.headers.location]).toEqual([302, '/console/'])
    expect((await a.inject('/console/../package.json')).statusCode).toBe(404)
    await a.close()
  })

  it('say how to build the console when it was not built', async () => {
    const a = await app({})
    const page = await a.inject('/console/')
    expect(page.statusCode).toBe(503)
    expect(page.body).toContain('npm run build')
    expect(page.headers['content-security-policy']).toBe(CONSOLE_CSP)
    await a.close()
  })
})
