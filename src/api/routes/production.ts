import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod'
import { z } from 'zod'
import type { ApiDeps } from '../api-deps.js'
import { apiKeyOf } from '../auth.js'
import { durationMs, durationParam, resolveWindow, scopeQuery, timeParam } from '../params.js'
import { badRequest } from '../problem.js'
import { resolveScope } from '../scope.js'

const bucket = z.object({ time: z.string(), good: z.number(), reject: z.number(), total: z.number() })

export const productionCountRoutes: FastifyPluginAsyncZod<ApiDeps> = async (app, deps) => {
  app.get(
    '/production/counts',
    {
      schema: {
        tags: ['production'],
        summary: 'Good and reject counts per interval for a machine, line, factory or zone',
        description:
          'Sums of the per-report deltas written at ingest (counter resets already handled). `by=machine` gives one series per machine; `by=scope` (default) one series for the whole scope. Buckets are aligned to the epoch (UTC); empty buckets are left out.',
        security: [{ bearerAuth: [] }],
        querystring: z.object({
          ...scopeQuery,
          start: timeParam.optional().describe('default: end minus 24 hours'),
          end: timeParam.optional().describe('default: now'),
          interval: durationParam.default('1h'),
          by: z.enum(['scope', 'machine']).default('scope'),
        }),
        response: {
          200: z.object({
            start: z.string(),
            end: z.string(),
            interval: z.string(),
            totals: z.object({ good: z.number(), reject: z.number(), total: z.number() }),
            series: z.array(z.object({ zone: z.string().nullable(), factory: z.string().nullable(), line: z.string().nullable(), machine: z.string().nullable(), buckets: z.array(bucket) })),
          }),
        },
      },
    },
    async (request) => {
      const q = request.query
      const scope = resolveScope(deps.registry.current(), apiKeyOf(request), q)
      const window = resolveWindow(q.start, q.end, 86_400_000, deps.config.maxWindowMs)
      const intervalMs = durationMs(q.interval)
      const buckets = Math.ceil((window.endMs - window.startMs) / intervalMs)
      if (buckets > deps.config.maxPoints) throw badRequest('interval', `window / interval gives ${buckets} buckets, more than the maximum of ${deps.config.maxPoints}`)
      const result = await deps.manufacturing.countBuckets(scope, window.startMs, window.endMs, intervalMs, q.by === 'machine')
      const totals = { good: 0, reject: 0, total: 0 }
      const series = [...result].map(([key, rows]) => {
        const [zone, factory, line, machine] = key === '' ? [scope.zone, scope.factory, scope.line, scope.machine] : key.split('/')
        for (const r of rows) {
          totals.good += r.good
          totals.reject += r.reject
          totals.total += r.total
        }
        return {
          zone: zone ?? null,
          factory: factory ?? null,
          line: line ?? null,
          machine: machine ?? null,
          buckets: rows.map((r) => ({ time: new Date(r.tsMs).toISOString(), good: r.good, reject: r.reject, total: r.total })),
        }
      })
      return { start: new Date(window.startMs).toISOString(), end: new Date(window.endMs).toISOString(), interval: q.interval, totals, series }
    },
  )
}
