import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod'
import { z } from 'zod'
import type { ApiDeps } from '../api-deps.js'
import { apiKeyOf } from '../auth.js'
import { nameParam, resolveWindow, scopeQuery, timeParam } from '../params.js'
import { resolveScope } from '../scope.js'

const inspection = z.object({
  time: z.string(),
  zone: z.string(),
  factory: z.string(),
  line: z.string(),
  machine: z.string(),
  characteristic: z.string(),
  value: z.number(),
  lsl: z.number().nullable(),
  usl: z.number().nullable(),
  target: z.number().nullable(),
  unit: z.string().nullable(),
  pass: z.boolean().nullable(),
  defectCode: z.string().nullable(),
  lot: z.string().nullable(),
})

export const inspectionRoutes: FastifyPluginAsyncZod<ApiDeps> = async (app, deps) => {
  app.get(
    '/quality/inspections',
    {
      schema: {
        tags: ['quality'],
        summary: 'Inspections, newest first, filtered by characteristic, machine, lot and pass/fail',
        security: [{ bearerAuth: [] }],
        querystring: z.object({
          ...scopeQuery,
          characteristic: nameParam.optional(),
          lot: z.string().min(1).max(256).optional(),
          pass: z.enum(['true', 'false']).optional(),
          start: timeParam.optional().describe('default: end minus 24 hours'),
          end: timeParam.optional().describe('default: now'),
          limit: z.coerce.number().int().min(1).max(10_000).default(500),
        }),
        response: { 200: z.object({ count: z.number(), inspections: z.array(inspection) }) },
      },
    },
    async (request) => {
      const q = request.query
      const scope = resolveScope(deps.registry.current(), apiKeyOf(request), q)
      const window = resolveWindow(q.start, q.end, 86_400_000, deps.config.maxWindowMs)
      const inspections = await deps.manufacturing.inspections(scope, { characteristic: q.characteristic, lot: q.lot, pass: q.pass === undefined ? undefined : q.pass === 'true' }, window.startMs, window.endMs, q.limit)
      return { count: inspections.length, inspections }
    },
  )
}
