import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod'
import { z } from 'zod'
import { AppError } from '../../errors.js'
import { byLabel, total } from '../../metrics/metrics.js'
import type { ApiDeps } from '../api-deps.js'
import { apiKeyOf } from '../auth.js'
import { keyCovers } from '../scope.js'

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
        description: 'Each with topic, gateway, reason, what to fix, and the first bytes of the payload (base64). Page backwards with `before` (an id). A scoped key sees only its own zone or factory.',
        security: [{ bearerAuth: [] }],
        querystring: z.object({
          limit: z.coerce.number().int().min(1).max(1000).default(100),
          before: z.coerce.number().int().positive().optional(),
          reason: z.string().max(64).optional(),
          gateway: z.string().max(64).optional(),
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
      const rejections = deps.rejections.list({
        limit: q.limit,
        beforeId: q.before,
        filter: (r) => keyCovers(key, r.zone, r.factory) && (q.reason === undefined || r.reason === q.reason) && (q.gateway === undefined || r.gateway === q.gateway),
      })
      return { rejections, next: rejections.length === q.limit ? rejections.at(-1)!.id : null }
    },
  )
}
