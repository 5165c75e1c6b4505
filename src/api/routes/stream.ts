import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod'
import { z } from 'zod'
import { KINDS } from '../../domain/topic.js'
import type { ApiDeps } from '../api-deps.js'
import { apiKeyOf } from '../auth.js'
import { LiveHub, type LiveEvent } from '../live-hub.js'
import { badRequest } from '../problem.js'
import { scopeQuery } from '../params.js'
import { resolveScope } from '../scope.js'
import type { Registry } from '../../registry/registry.js'

export const streamRoutes: FastifyPluginAsyncZod<ApiDeps> = async (app, deps) => {
  const hub = new LiveHub(deps.config.sse)
  const unsubscribe = deps.ingestor.onAccepted((a) => hub.publish(a), 'live-hub')
  // A stream is authorized once, when it opens: a key removed, given a new secret or another scope
  // since must not keep it (docs/security.md). Ended, an EventSource reconnects and gets its 401.
  const held = (registry: Registry, id: string) => {
    const def = registry.file.apiKeys.find((k) => k.id === id)
    return def ? `${def.secretHash} ${JSON.stringify(def.scope)}` : undefined
  }
  const stopWatching = deps.registry.onReload?.((registry) => {
    const ended = hub.endWhere((c) => c.key !== undefined && held(registry, c.key.id) !== c.key.held, 'the API key of this stream was removed or changed; reconnect with a current key')
    if (ended > 0) deps.log.info({ streams: ended }, 'live streams ended: their API key was removed or changed')
  })
  const heartbeat = setInterval(() => hub.heartbeat(), deps.config.sse.heartbeatMs)
  heartbeat.unref()
  // preClose: end the streams before the server waits for its connections to finish.
  app.addHook('preClose', async () => {
    clearInterval(heartbeat)
    stopWatching?.()
    unsubscribe()
    hub.close()
  })

  app.get(
    '/stream',
    {
      schema: {
        tags: ['live'],
        summary: 'Server-Sent Events of decoded messages, filtered by scope, kind and machine',
        description:
          'text/event-stream; each event has an id, the kind as event name, and JSON data (identity, gateway, decoded message; an absent optional field is null, as in the REST answers). Honours the key\'s scope. Heartbeat comments every SSE_HEARTBEAT_S. Resume with the Last-Event-ID header (within the last SSE_BUFFER_EVENTS events). A client that does not keep up is disconnected after SSE_CLIENT_QUEUE_EVENTS queued events.',
        security: [{ bearerAuth: [] }],
        querystring: z.object({ ...scopeQuery, kinds: z.string().max(200).optional().describe('comma-separated: telemetry,state,production,quality,material,connectivity') }),
        'x-media': { 'text/event-stream': 'Server-Sent Events: `id`, `event` (the kind) and `data` (JSON) per message; comments as heartbeats' },
        headers: z.object({ 'last-event-id': z.string().regex(/^\d{1,16}$/, 'must be an event id').optional() }).passthrough(),
      },
    },
    async (request, reply) => {
      const q = request.query
      const registry = deps.registry.current()
      const key = apiKeyOf(request)
      const scope = resolveScope(registry, key, q)
      const kinds = q.kinds === undefined ? undefined : new Set(q.kinds.split(','))
      for (const k of kinds ?? []) if (!(KINDS as readonly string[]).includes(k)) throw badRequest('kinds', `unknown kind "${k}"; use ${KINDS.join(', ')}`)
      const accepts = (e: LiveEvent) =>
        (kinds === undefined || kinds.has(e.kind)) &&
        (scope.zone === undefined || e.zone === scope.zone) &&
        (scope.factory === undefined || e.factory === scope.factory) &&
        (scope.line === undefined || e.line === scope.line) &&
        (scope.machine === undefined || e.machine === scope.machine)
      const lastId = request.headers['last-event-id']
      reply.hijack()
      const res = reply.raw
      // Hijacked, the reply's own headers (CORS, set by @fastify/cors on the reply) are not sent: copy them.
      for (const [name, value] of Object.entries(reply.getHeaders())) if (value !== undefined) res.setHeader(name, value)
      res.writeHead(200, { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-cache, no-transform', connection: 'keep-alive', 'x-accel-buffering': 'no' })
      res.write(`retry: 2000\n: connected\n\n`)
      hub.add({ res, accepts, queued: 0, key: { id: key.id, held: held(registry, key.id) ?? '' } }, lastId === undefined ? undefined : Number(lastId))
    },
  )
}
