import { existsSync, readFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import fastifyStatic from '@fastify/static'
import type { FastifyPluginAsync, FastifyReply } from 'fastify'

/**
 * The strict policy of the console's pages (docs/security.md): its own scripts,
 * styles and API only; no inline code, no frames, no other origin.
 */
export const CONSOLE_CSP = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "connect-src 'self'",
  "font-src 'self'",
  "base-uri 'none'",
  "form-action 'self'",
  "frame-ancestors 'none'",
].join('; ')

export interface ConsoleOptions {
  /** Where `npm run build` put the console (dist/console under the package root by default). */
  readonly dir?: string
  /** MACHINE_OFFLINE_AFTER_S in ms: the floor board greys a tile after it without waiting for the API. */
  readonly offlineAfterMs: number
}

/** The package root: the nearest folder above this file with our package.json (the same from src/ and dist/src/). */
export function packageRoot(from = dirname(fileURLToPath(import.meta.url))): string {
  for (let dir = from; ; dir = dirname(dir)) {
    const pkg = join(dir, 'package.json')
    if (existsSync(pkg) && (JSON.parse(readFileSync(pkg, 'utf8')) as { name?: string }).name === 'iiot-ingest') return dir
    if (dirname(dir) === dir) throw new Error(`no iiot-ingest package.json above ${from}`)
  }
}

/**
 * Serves the web console (docs/console.md) at /console/: static files built by
 * `npm run build`, hashed names cached for a year, the page itself revalidated
 * every time, all under CONSOLE_CSP. It holds no data: the pages read the public
 * API with the key the user typed, so they never see more than that key.
 */
export const consoleRoutes: FastifyPluginAsync<ConsoleOptions> = async (app, opts) => {
  const dir = opts.dir ?? join(packageRoot(), 'dist', 'console')
  app.addHook('onSend', async (_request, reply, payload) => {
    reply.header('content-security-policy', CONSOLE_CSP)
    return payload
  })
  // The console's pages and files are not API operations: kept out of the OpenAPI document.
  const hidden = { schema: { hide: true } }
  app.get('/', hidden, (_request, reply) => reply.redirect('/console/', 302))
  app.get('/console/config.json', hidden, (_request, reply) => {
    reply.header('cache-control', 'no-cache')
    return { offlineAfterS: opts.offlineAfterMs / 1000 }
  })
  if (!existsSync(join(dir, 'index.html'))) {
    const notBuilt = (_request: unknown, reply: FastifyReply) => {
      reply.code(503).type('text/plain; charset=utf-8').header('cache-control', 'no-store')
      return 'The console is not built: run `npm run build` (docs/console.md).\n'
    }
    // The wildcard does not match its own prefix: the page's address needs its own route.
    app.get('/console/', hidden, notBuilt)
    app.get('/console/*', hidden, notBuilt)
    return
  }
  await app.register(fastifyStatic, {
    root: dir,
    prefix: '/console/',
    index: false,
    cacheControl: false,
    setHeaders: (reply, path) => {
      // Bundles carry a content hash in their names (scripts/build-console.js): safe to keep; the page must not be kept.
      reply.header('cache-control', /-[A-Z0-9]{8}\.(js|css)$/.test(path) ? 'public, max-age=31536000, immutable' : 'no-cache')
    },
  })
  // The page itself (with ignoreTrailingSlash, /console too); the static wildcard does not answer its own prefix.
  app.get('/console/', hidden, (_request, reply) => reply.sendFile('index.html'))
}
