import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod'
import { z } from 'zod'
import { AppError } from '../../errors.js'
import { byLabel, total } from '../../metrics/metrics.js'
import type { ApiDeps } from '../api-deps.js'
import { apiKeyOf } from '../auth.js'
import { scopeQuery } from '../params.js'
import { keyCovers, resolveScope } from '../scope.js'

const counts = z.record(z.string(), z.number())

export const ingestRoutes: FastifyPluginAsyncZod<ApiDeps> = async (app, deps) => {
  app.get(
    '/ingest/stats',
    {
      schema: {
        tags: ['ingest'],
        summary: 'Ingest counters since the process started',
        description: 'Service-wide counters: needs a key with scope "all" (operators).',
        security: [{ bearerAuth: [] }],
        response: {
          200: z.object({
            received: counts,
            accepted: counts,
            rejected: counts,
            refused: counts,
            points: z.object({ queued: z.number(), written: z.number(), dropped: counts }),
            qos0Dropped: z.number(),
            journal: z.object({ unwrittenRecords: z.number(), unwrittenBytes: z.number(), oldestUnwrittenAgeS: z.number().nullable(), full: z.boolean() }),
            writeErrors: counts,
            node: z.object({ mode: z.enum(['embedded', 'worker', 'api', 'worker+api']), counters: z.enum(['service', 'node']) }).describe('whose counters these are: the whole service (embedded), or only this process (workers and API nodes; docs/scaling-out.md)'),
          }),
        },
      },
    },
    async (request) => {
      const key = apiKeyOf(request)
      if (!('all' in key.scope)) throw new AppError('IIOT_ERR_API_FORBIDDEN', `API key "${key.id}" is scoped; service-wide ingest counters need a key with scope "all"`)
      const m = deps.metrics
      const journal = deps.journalStats()
      const refused: Record<string, number> = {}
      for (const v of (await m.refused.get()).values) {
        const k = `${v.labels.operation}:${v.labels.reason}`
        refused[k] = (refused[k] ?? 0) + v.value
      }
      return {
        received: await byLabel(m.received, 'kind'),
        accepted: await byLabel(m.accepted, 'kind'),
        rejected: await byLabel(m.rejected, 'reason'),
        refused,
        points: {
          queued: await total(m.pointsQueued),
          written: await total(m.pointsWritten),
          dropped: await byLabel(m.pointsDropped, 'reason'),
        },
        qos0Dropped: await total(m.qos0Dropped),
        journal: {
          unwrittenRecords: journal.unwrittenRecords,
          unwrittenBytes: journal.unwrittenBytes,
          oldestUnwrittenAgeS: journal.oldestUnwrittenMs === undefined ? null : (Date.now() - journal.oldestUnwrittenMs) / 1000,
          full: journal.full,
        },
        writeErrors: await byLabel(m.writeErrors, 'retriable'),
        node: { mode: deps.serviceMode ?? 'embedded', counters: (deps.serviceMode ?? 'embedded') === 'embedded' ? 'service' : 'node' },
      } as const
    },
  )

  app.get(
    '/ingest/rejections',
    {
      schema: {
        tags: ['ingest'],
        summary: 'Rejected messages, newest first',
        description:
          'Each with topic, gateway, reason, what to fix, and the first bytes of the payload (base64). Page backwards with `before` (an id). A scoped key sees only its own zone or factory. ' +
          '`zone` and `factory` narrow the list within the key\'s scope (another zone or factory: 403); a rejection tied to no factory (a topic that does not parse, a Sparkplug edge node not in the registry) is left out when either is given.',
        security: [{ bearerAuth: [] }],
        querystring: z.object({
          limit: z.coerce.number().int().min(1).max(1000).default(100),
          before: z.coerce.number().int().positive().optional(),
          reason: z.string().max(64).optional(),
          gateway: z.string().max(64).optional(),
          zone: scopeQuery.zone,
          factory: scopeQuery.factory,
        }),
        response: {
          200: z.object({
            rejections: z.array(
              z.object({
                id: z.number(),
                time: z.string(),
                topic: z.string(),
                gateway: z.string().optional(),
                zone: z.string().optional(),
                factory: z.string().optional(),
                reason: z.string(),
                message: z.string(),
                payloadBytes: z.number(),
                payloadBase64: z.string(),
              }),
            ),
            next: z.number().nullable(),
          }),
        },
      },
    },
    async (request) => {
      const key = apiKeyOf(request)
      const q = request.query
      // Ids checked as elsewhere: unknown 404, outside the key's scope 403. Only what was asked filters:
      // with neither, an all-scope key also sees rejections whose topic named no factory.
      if (q.zone !== undefined || q.factory !== undefined) resolveScope(deps.registry.current(), key, { zone: q.zone, factory: q.factory })
      const rejections = deps.rejections.list({
        limit: q.limit,
        beforeId: q.before,
        filter: (r) =>
          keyCovers(key, r.zone, r.factory) &&
          (q.zone === undefined || r.zone === q.zone) &&
          (q.factory === undefined || r.factory === q.factory) &&
          (q.reason === undefined || r.reason === q.reason) &&
          (q.gateway === undefined || r.gateway === q.gateway),
      })
      return { rejections, next: rejections.length === q.limit ? rejections.at(-1)!.id : null }
    },
  )
}
