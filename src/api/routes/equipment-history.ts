import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod'
import { z } from 'zod'
import { downtimePareto, timeInState, type StateInterval } from '../../domain/state-timeline.js'
import type { ApiDeps } from '../api-deps.js'
import { isoTime, machineRef, scopeAnswer, secondsByState, stateInterval } from '../answer-schemas.js'
import { apiKeyOf } from '../auth.js'
import { isoOf, seconds, timelines } from '../history.js'
import { resolveWindow, scopeQuery, slugParam, timeParam } from '../params.js'
import { machinesInScope, resolveScope } from '../scope.js'
import { badRequest } from '../problem.js'

const windowQuery = {
  start: timeParam.optional().describe('default: end minus 24 hours'),
  end: timeParam.optional().describe('default: now (a window is clamped to now)'),
}

function durationsS(intervals: readonly StateInterval[]): Record<string, number> {
  const d = timeInState(intervals)
  return Object.fromEntries(Object.entries(d.byStateMs).map(([k, v]) => [k, seconds(v)]))
}

export const equipmentHistoryRoutes: FastifyPluginAsyncZod<ApiDeps> = async (app, deps) => {
  app.get(
    '/equipment/timeline',
    {
      schema: {
        tags: ['equipment'],
        summary: 'One machine\'s state timeline over a window',
        description:
          'Contiguous intervals (state, reason (null when none was given), alarms, start, end, duration), including the state already in force when the window starts (found up to API_STATE_LOOKBACK_DAYS back); consecutive reports of the same state and reason merge; time before the first known state is "unknown". Plus seconds in each state.',
        security: [{ bearerAuth: [] }],
        querystring: z.object({ zone: scopeQuery.zone, factory: slugParam, line: slugParam, machine: slugParam, ...windowQuery }),
        response: {
          200: z.object({
            machine: machineRef,
            start: isoTime,
            end: isoTime,
            intervals: z.array(stateInterval.extend({ alarms: z.array(z.string()) })),
            timeInStateS: secondsByState,
          }),
        },
      },
    },
    async (request) => {
      const q = request.query
      const registry = deps.registry.current()
      const scope = resolveScope(registry, apiKeyOf(request), q)
      const w = resolveWindow(q.start, q.end, 86_400_000, deps.config.maxWindowMs)
      if (w.startMs >= Date.now()) throw badRequest('start', 'the window lies in the future')
      const [machine] = machinesInScope(registry, scope)
      const intervals = [...(await timelines(deps, scope, [machine!], w.startMs, w.endMs)).values()][0]!
      return {
        machine: { zone: machine!.zone, factory: machine!.factory, line: machine!.line, machine: machine!.machine },
        start: isoOf(w.startMs),
        end: isoOf(Math.min(w.endMs, Date.now())),
        intervals: intervals.map((i) => ({ state: i.state, reason: i.reason || null, alarms: [...i.alarms], start: isoOf(i.startMs), end: isoOf(i.endMs), durationS: seconds(i.durationMs) })),
        timeInStateS: durationsS(intervals),
      }
    },
  )

  app.get(
    '/equipment/downtime',
    {
      schema: {
        tags: ['equipment'],
        summary: 'Downtime by reason (Pareto), planned vs unplanned, and time in each state, over a window',
        description:
          'Over every machine in the scope: down states are planned_stop (planned) and unplanned_stop and fault (unplanned); idle, setup, offline and unknown are reported beside, not as downtime. Reasons sorted by duration with share and cumulative share.',
        security: [{ bearerAuth: [] }],
        querystring: z.object({ ...scopeQuery, ...windowQuery }),
        response: {
          200: z.object({
            scope: scopeAnswer,
            machines: z.number(),
            start: isoTime,
            end: isoTime,
            totalDownS: z.number(),
            plannedS: z.number(),
            unplannedS: z.number(),
            notDownS: z.object({ idle: z.number(), setup: z.number(), offline: z.number(), unknown: z.number() }),
            reasons: z.array(
              z.object({ reason: z.string(), count: z.number(), durationS: z.number(), plannedS: z.number(), unplannedS: z.number(), share: z.number(), cumulativeShare: z.number() }),
            ),
            timeInStateS: secondsByState,
          }),
        },
      },
    },
    async (request) => {
      const q = request.query
      const registry = deps.registry.current()
      const scope = resolveScope(registry, apiKeyOf(request), q)
      const w = resolveWindow(q.start, q.end, 86_400_000, deps.config.maxWindowMs)
      if (w.startMs >= Date.now()) throw badRequest('start', 'the window lies in the future')
      const machines = machinesInScope(registry, scope)
      const all = [...(await timelines(deps, scope, machines, w.startMs, w.endMs)).values()].flat()
      const p = downtimePareto(all)
      return {
        scope,
        machines: machines.length,
        start: isoOf(w.startMs),
        end: isoOf(Math.min(w.endMs, Date.now())),
        totalDownS: seconds(p.totalDownMs),
        plannedS: seconds(p.plannedMs),
        unplannedS: seconds(p.unplannedMs),
        notDownS: { idle: seconds(p.idleMs), setup: seconds(p.setupMs), offline: seconds(p.offlineMs), unknown: seconds(p.unknownMs) },
        reasons: p.reasons.map((r) => ({ reason: r.reason, count: r.count, durationS: seconds(r.durationMs), plannedS: seconds(r.plannedMs), unplannedS: seconds(r.unplannedMs), share: r.share, cumulativeShare: r.cumulativeShare })),
        timeInStateS: durationsS(all),
      }
    },
  )
}
