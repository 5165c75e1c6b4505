import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod'
import { z } from 'zod'
import type { ApiDeps } from '../api-deps.js'

/** Ops endpoints, unauthenticated: /healthz (process), /readyz (dependencies), /metrics (Prometheus). */
export const healthRoutes: FastifyPluginAsyncZod<ApiDeps> = async (app, deps) => {
  app.get('/healthz', { schema: { tags: ['ops'], summary: 'The process is up', response: { 200: z.object({ status: z.literal('ok') }) } } }, async () => ({ status: 'ok' as const }))

  const checks = z.record(z.string(), z.boolean())
  app.get(
    '/readyz',
    {
      schema: {
        tags: ['ops'],
        summary: 'Ready to take traffic',
        description: 'influxdb: InfluxDB answers; journal: below its size limit; journalDiskSpace: the journal disk has JOURNAL_MIN_FREE_BYTES free; journalWrites: journal writes succeed; writing: InfluxDB has accepted writes within READY_WRITE_STALL_MS while data waits.',
        response: { 200: z.object({ status: z.literal('ready'), checks }), 503: z.object({ status: z.literal('not_ready'), checks }) },
      },
    },
    async (_request, reply) => {
      const { ready, checks } = await deps.readiness()
      return ready ? { status: 'ready' as const, checks } : reply.code(503).send({ status: 'not_ready' as const, checks })
    },
  )

  app.get('/metrics', { schema: { tags: ['ops'], summary: 'Prometheus metrics', 'x-media': { 'text/plain': 'the Prometheus text exposition format, version 0.0.4' } } }, async (_request, reply) => {
    reply.type(deps.metrics.registry.contentType)
    return deps.metrics.registry.metrics()
  })
}
