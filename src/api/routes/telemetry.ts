import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod'
import { z } from 'zod'
import { machineKey } from '../../domain/machine-key.js'
import { AGGREGATES } from '../../storage/ports.js'
import type { ApiDeps } from '../api-deps.js'
import { machineRef } from '../answer-schemas.js'
import { apiKeyOf } from '../auth.js'
import { durationParam, durationMs, nameParam, resolveWindow, scopeQuery, slugParam, timeParam } from '../params.js'
import { badRequest } from '../problem.js'
import { resolveScope } from '../scope.js'

const latestValue = z.object({
  zone: z.string(),
  factory: z.string(),
  line: z.string(),
  machine: z.string(),
  signal: z.string(),
  time: z.string(),
  value: z.union([z.number(), z.boolean(), z.string(), z.null()]),
  unit: z.string().nullable(),
  quality: z.string().nullable(),
  stale: z.boolean().describe('the machine was reported offline after this value (a Sparkplug NDEATH or DDEATH, or a gateway\'s state "offline"): the last value known, not a current one'),
})

const seriesPoint = z.object({ time: z.string(), value: z.number().nullable().describe('null: no sample in the interval') })

export const telemetryRoutes: FastifyPluginAsyncZod<ApiDeps> = async (app, deps) => {
  app.get(
    '/telemetry/latest',
    {
      schema: {
        tags: ['telemetry'],
        summary: 'Latest value of every signal in a scope',
        description: 'One row per (machine, signal) with a value in the lookback window. Scope by zone, factory, line, machine; a key scoped to a factory sees only its own.',
        security: [{ bearerAuth: [] }],
        querystring: z.object({
          ...scopeQuery,
          signal: nameParam.optional(),
          lookback: durationParam.optional().describe('how far back to look for a latest value (default API_LATEST_LOOKBACK_HOURS)'),
          limit: z.coerce.number().int().min(1).max(10_000).default(1000),
        }),
        response: { 200: z.object({ scope: z.record(z.string(), z.string().optional()), count: z.number(), values: z.array(latestValue) }) },
      },
    },
    async (request) => {
      const q = request.query
      const scope = resolveScope(deps.registry.current(), apiKeyOf(request), q)
      const lookbackMs = q.lookback === undefined ? deps.config.latestLookbackMs : durationMs(q.lookback)
      if (lookbackMs > deps.config.maxWindowMs) throw badRequest('lookback', 'longer than the maximum window')
      const values = (await deps.telemetry.latest(scope, q.signal, lookbackMs, q.limit)).map((v) => {
        const m = deps.live.get(machineKey(v.zone, v.factory, v.line, v.machine))
        return { ...v, stale: m?.state === 'offline' && m.sinceMs !== undefined && m.sinceMs >= Date.parse(v.time) }
      })
      return { scope: { ...scope }, count: values.length, values }
    },
  )

  app.get(
    '/telemetry/series',
    {
      schema: {
        tags: ['telemetry'],
        summary: 'One signal of one machine over a window, downsampled',
        description: 'Aggregates the float value per interval (buckets aligned to the epoch); the window divided by the interval may not exceed API_MAX_POINTS.',
        security: [{ bearerAuth: [] }],
        querystring: z.object({
          zone: slugParam.optional(),
          factory: slugParam,
          line: slugParam,
          machine: slugParam,
          signal: nameParam,
          start: timeParam.optional().describe('default: end minus 1 hour'),
          end: timeParam.optional().describe('default: now'),
          interval: durationParam.default('1m'),
          aggregate: z.enum(AGGREGATES).default('mean'),
        }),
        response: {
          200: z.object({
            machine: machineRef,
            signal: z.string(),
            aggregate: z.string(),
            interval: z.string(),
            start: z.string(),
            end: z.string(),
            points: z.array(seriesPoint),
          }),
        },
      },
    },
    async (request) => {
      const q = request.query
      const scope = resolveScope(deps.registry.current(), apiKeyOf(request), q)
      const window = resolveWindow(q.start, q.end, 3_600_000, deps.config.maxWindowMs)
      const intervalMs = durationMs(q.interval)
      const buckets = Math.ceil((window.endMs - window.startMs) / intervalMs)
      if (buckets > deps.config.maxPoints) throw badRequest('interval', `window / interval gives ${buckets} points, more than the maximum of ${deps.config.maxPoints}; use a longer interval`)
      const points = await deps.telemetry.series({
        zone: scope.zone!,
        factory: scope.factory!,
        line: scope.line!,
        machine: scope.machine!,
        signal: q.signal,
        startMs: window.startMs,
        endMs: window.endMs,
        intervalMs,
        aggregate: q.aggregate,
      })
      return {
        machine: { zone: scope.zone!, factory: scope.factory!, line: scope.line!, machine: scope.machine! },
        signal: q.signal,
        aggregate: q.aggregate,
        interval: q.interval,
        start: new Date(window.startMs).toISOString(),
        end: new Date(window.endMs).toISOString(),
        points,
      }
    },
  )

  app.get(
    '/telemetry/series-multi',
    {
      schema: {
        tags: ['telemetry'],
        summary: 'Several signals of one machine over a window, downsampled alike',
        description: 'As /telemetry/series for up to 20 comma-separated signals, queried in parallel.',
        security: [{ bearerAuth: [] }],
        querystring: z.object({
          zone: slugParam.optional(),
          factory: slugParam,
          line: slugParam,
          machine: slugParam,
          signals: z
            .string()
            .max(20 * 129)
            .transform((s) => s.split(','))
            .pipe(z.array(nameParam).min(1).max(20, 'at most 20 signals')),
          start: timeParam.optional().describe('default: end minus 1 hour'),
          end: timeParam.optional().describe('default: now'),
          interval: durationParam.default('1m'),
          aggregate: z.enum(AGGREGATES).default('mean'),
        }),
        response: {
          200: z.object({
            machine: machineRef,
            aggregate: z.string(),
            interval: z.string(),
            start: z.string(),
            end: z.string(),
            series: z.array(z.object({ signal: z.string(), points: z.array(seriesPoint) })),
          }),
        },
      },
    },
    async (request) => {
      const q = request.query
      const scope = resolveScope(deps.registry.current(), apiKeyOf(request), q)
      const window = resolveWindow(q.start, q.end, 3_600_000, deps.config.maxWindowMs)
      const intervalMs = durationMs(q.interval)
      const buckets = Math.ceil((window.endMs - window.startMs) / intervalMs) * q.signals.length
      if (buckets > deps.config.maxPoints) throw badRequest('interval', `window / interval x signals gives ${buckets} points, more than the maximum of ${deps.config.maxPoints}`)
      const series = await Promise.all(
        q.signals.map(async (signal) => ({
          signal,
          points: await deps.telemetry.series({ zone: scope.zone!, factory: scope.factory!, line: scope.line!, machine: scope.machine!, signal, startMs: window.startMs, endMs: window.endMs, intervalMs, aggregate: q.aggregate }),
        })),
      )
      return { machine: { zone: scope.zone!, factory: scope.factory!, line: scope.line!, machine: scope.machine! }, aggregate: q.aggregate, interval: q.interval, start: new Date(window.startMs).toISOString(), end: new Date(window.endMs).toISOString(), series }
    },
  )
}
