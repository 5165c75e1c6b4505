import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod'
import { z } from 'zod'
import { KINDS } from '../../domain/topic.js'
import type { ApiDeps } from '../api-deps.js'
import { apiKeyOf } from '../auth.js'
import { resolveScope } from '../scope.js'
import { resolveWindow, scopeQuery, timeParam } from '../params.js'

export const recordsRoutes: FastifyPluginAsyncZod<ApiDeps> = async (app, deps) => {
  app.get(
    '/records/:kind',
    {
      schema: {
        tags: ['records'],
        summary: 'Stored points of one kind, as written',
        description:
          'The raw inputs behind every figure: points of telemetry, state, production, quality, material or connectivity in a scope and window, with their tags and fields. Bounded by `limit`; page with a narrower window.',
        security: [{ bearerAuth: [] }],
        params: z.object({ kind: z.enum(KINDS) }),
        querystring: z.object({
          ...scopeQuery,
          start: timeParam.optional().describe('default: end minus 1 hour'),
          end: timeParam.optional().describe('default: now'),
          limit: z.coerce.number().int().min(1).max(10_000).default(1000),
          order: z.enum(['asc', 'desc']).default('asc'),
        }),
        response: {
          200: z.object({
            kind: z.string(),
            start: z.string(),
            end: z.string(),
            count: z.number(),
            records: z.array(z.object({ time: z.string(), tags: z.record(z.string(), z.string()), fields: z.record(z.string(), z.union([z.number(), z.boolean(), z.string()])) })),
          }),
        },
      },
    },
    async (request) => {
      const q = request.query
      const scope = resolveScope(deps.registry.current(), apiKeyOf(request), q)
      const window = resolveWindow(q.start, q.end, 3_600_000, deps.config.maxWindowMs)
      const records = await deps.records.records({ kind: request.params.kind, scope, ...window, limit: q.limit, order: q.order })
      return { kind: request.params.kind, start: new Date(window.startMs).toISOString(), end: new Date(window.endMs).toISOString(), count: records.length, records }
    },
  )
}
