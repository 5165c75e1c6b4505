import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod'
import { z } from 'zod'
import { spcIndividuals } from '../../domain/spc.js'
import { isoOf } from '../history.js'
import type { ApiDeps } from '../api-deps.js'
import { inspection, isoTime, scopeAnswer } from '../answer-schemas.js'
import { apiKeyOf } from '../auth.js'
import { nameParam, numberParam, resolveWindow, scopeQuery, slugParam, timeParam } from '../params.js'
import { badRequest } from '../problem.js'
import { resolveScope } from '../scope.js'


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

const SPC_MAX_POINTS = 10_000

const nullable = z.number().nullable()
const spcAnswer = z.object({
  scope: scopeAnswer,
  characteristic: z.string(),
  chart: z.string(),
  start: isoTime,
  end: isoTime,
  truncated: z.boolean().describe('the window held more than 10,000 measurements: the newest 10,000 are charted'),
  n: z.number(),
  mean: nullable,
  mrBar: nullable,
  sigmaWithin: nullable,
  sigmaOverall: nullable,
  centerLine: nullable,
  ucl: nullable,
  lcl: nullable,
  mrUcl: nullable,
  cp: nullable,
  cpk: nullable,
  pp: nullable,
  ppk: nullable,
  spec: z.object({ lsl: z.number().optional(), usl: z.number().optional(), target: z.number().optional() }),
  violations: z.array(
    z.object({ rule: z.number().int().min(1).max(4), index: z.number(), tsMs: z.number(), time: isoTime, value: z.number(), side: z.enum(['above', 'below']), machine: z.string().nullable() }),
  ),
})

export const spcRoutes: FastifyPluginAsyncZod<ApiDeps> = async (app, deps) => {
  app.get(
    '/quality/spc',
    {
      schema: {
        tags: ['quality'],
        summary: 'SPC of a characteristic over a window: I-MR chart, Cp/Cpk, Western Electric rules 1-4',
        description:
          'Individuals chart (one measurement per point, in time order; the newest 10,000 in the window): center line = mean; sigma (within) = mean moving range / d2 (1.128); UCL/LCL = mean ± 3 sigma. Cp = (USL - LSL) / 6 sigma, Cpk = min(USL - mean, mean - LSL) / 3 sigma with sigma within; Pp/Ppk the same with the overall standard deviation. Spec limits from the parameters, else from the newest inspection that carries them; lsl must be below usl (400 otherwise). Violations: rule 1 one point beyond 3 sigma; rule 2 two of three beyond 2 sigma on one side; rule 3 four of five beyond 1 sigma on one side; rule 4 eight in a row on one side; each with the point that completes it.',
        security: [{ bearerAuth: [] }],
        querystring: z.object({
          zone: scopeQuery.zone,
          factory: slugParam,
          line: slugParam.optional(),
          machine: slugParam.optional(),
          characteristic: nameParam,
          start: timeParam.optional().describe('default: end minus 24 hours'),
          end: timeParam.optional().describe('default: now'),
          lsl: numberParam.optional(),
          usl: numberParam.optional(),
          target: numberParam.optional(),
        }).superRefine((q, ctx) => {
          if (q.lsl !== undefined && q.usl !== undefined && !(q.lsl < q.usl)) {
            ctx.addIssue({ code: 'custom', path: ['lsl'], message: `must be below usl (${q.usl})` })
            ctx.addIssue({ code: 'custom', path: ['usl'], message: `must be above lsl (${q.lsl})` })
          }
        }),
        response: { 200: spcAnswer },
      },
    },
    async (request) => {
      const q = request.query
      const scope = resolveScope(deps.registry.current(), apiKeyOf(request), q)
      const window = resolveWindow(q.start, q.end, 86_400_000, deps.config.maxWindowMs)
      const rows = (await deps.manufacturing.inspections(scope, { characteristic: q.characteristic }, window.startMs, window.endMs, SPC_MAX_POINTS)).reverse()
      const newestWithSpec = [...rows].reverse().find((r) => r.lsl !== null || r.usl !== null)
      const spec = {
        lsl: q.lsl ?? newestWithSpec?.lsl ?? undefined,
        usl: q.usl ?? newestWithSpec?.usl ?? undefined,
        target: q.target ?? newestWithSpec?.target ?? undefined,
      }
      // One limit given, the other stored: the pair must still be in order (both given is checked by the schema).
      if (spec.lsl !== undefined && spec.usl !== undefined && !(spec.lsl < spec.usl) && (q.lsl === undefined) !== (q.usl === undefined)) {
        throw q.lsl !== undefined
          ? badRequest('lsl', `must be below the usl of the newest inspection that carries spec limits (${spec.usl}); give usl too`)
          : badRequest('usl', `must be above the lsl of the newest inspection that carries spec limits (${spec.lsl}); give lsl too`)
      }
      const points = rows.map((r) => ({ tsMs: Date.parse(r.time), value: r.value }))
      const result = spcIndividuals(points, spec)
      return {
        scope,
        characteristic: q.characteristic,
        chart: 'individuals (I-MR)',
        start: isoOf(window.startMs),
        end: isoOf(window.endMs),
        truncated: rows.length === SPC_MAX_POINTS,
        ...result,
        violations: result.violations.map((v) => ({ ...v, time: isoOf(v.tsMs), machine: rows[v.index]?.machine ?? null })),
      }
    },
  )
}
