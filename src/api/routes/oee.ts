import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod'
import { z } from 'zod'
import { machineKey } from '../../domain/live-state.js'
import { lineOee, machineOee, type OeeResult } from '../../domain/oee.js'
import { defaultOeeWindow, describeWindow, firstKnownMs, startAtFirstData, type ChosenWindow } from '../../domain/oee-window.js'
import { plannedWindows, shiftsInWindow } from '../../domain/shifts.js'
import type { StateInterval } from '../../domain/state-timeline.js'
import { clipWindow, type TimeWindow } from '../../domain/time-window.js'
import { AppError } from '../../errors.js'
import type { ApiDeps } from '../api-deps.js'
import { apiKeyOf } from '../auth.js'
import { isoOf, timelines } from '../history.js'
import { resolveWindow, scopeQuery, slugParam, timeParam } from '../params.js'
import { machinesInScope, resolveScope, type MachineInScope } from '../scope.js'

interface MachineData {
  readonly m: MachineInScope
  readonly intervals: readonly StateInterval[]
  /** Counts per window of `windows`, same order. */
  readonly counts: readonly { good: number; reject: number }[]
}

/** OEE over the windows at these indexes: per machine, and rolled up when there are several. */
function oeeOver(data: readonly MachineData[], windows: readonly TimeWindow[], indexes: readonly number[]) {
  const ws = indexes.map((i) => windows[i]!)
  const machines = data.map((d) => {
    let good = 0
    let reject = 0
    for (const i of indexes) {
      good += d.counts[i]?.good ?? 0
      reject += d.counts[i]?.reject ?? 0
    }
    return { machine: d.m.machine, line: d.m.line, ...machineOee({ intervals: d.intervals, windows: ws, idealCycleTimeS: d.m.idealCycleTimeS, goodCount: good, rejectCount: reject }) }
  })
  return machines.length === 1 ? { ...machines[0]!, machines: undefined } : lineOee(machines)
}

export const oeeRoutes: FastifyPluginAsyncZod<ApiDeps> = async (app, deps) => {
  app.get(
    '/production/oee',
    {
      schema: {
        tags: ['production'],
        summary: 'OEE of a machine or a line over a window, or per shift, with every input',
        description: [
          'availability = run time / planned production time; planned production time = shift time (from the factory\'s shift calendar, in its time zone; an empty calendar means 24/7) minus planned stops; run time = time "running" inside the shifts (idle, setup, unplanned stops, faults, offline and unknown time are availability losses).',
          'performance = ideal cycle time x total count / run time (not capped: performanceAbove1 flags an ideal cycle time set too slow); quality = good / total; OEE = A x P x Q.',
          'A line rolls up from its machines by summing the inputs (planned and run time, ideal output time, good and total counts) and recomputing A, P and Q, never by averaging OEEs. `by=shift` splits the window into shift occurrences (a night shift crossing midnight is one occurrence).',
          'Without start and end the window is the current shift from its start to now (between shifts: the last shift, whole; no shift calendar: the last 24 hours), starting later at the first state the scope ever reported if that falls inside it; `window` says which.',
        ].join(' '),
        security: [{ bearerAuth: [] }],
        querystring: z.object({
          zone: scopeQuery.zone,
          factory: slugParam,
          line: slugParam,
          machine: slugParam.optional(),
          start: timeParam.optional().describe('default (with end also unset): the current shift\'s start; with end set: end minus 24 hours'),
          end: timeParam.optional().describe('default: now (clamped to now)'),
          by: z.enum(['window', 'shift']).default('window'),
        }),
      },
    },
    async (request) => {
      const q = request.query
      const registry = deps.registry.current()
      const scope = resolveScope(registry, apiKeyOf(request), q)
      const machines = machinesInScope(registry, scope)
      const factory = registry.factory(scope.factory!)!.factory
      const now = Date.now()
      let chosen: ChosenWindow
      if (q.start === undefined && q.end === undefined) chosen = defaultOeeWindow(factory.shifts, factory.timezone, now)
      else {
        const w = resolveWindow(q.start, q.end, 86_400_000, deps.config.maxWindowMs)
        chosen = { startMs: w.startMs, endMs: Math.min(w.endMs, now), basis: 'requested', shift: null }
      }
      if (chosen.endMs <= chosen.startMs) throw new AppError('IIOT_ERR_API_BAD_REQUEST', 'start: the window lies in the future', { details: ['start: the window lies in the future'] })
      const tl = await timelines(deps, scope, machines, chosen.startMs, chosen.endMs)
      // A default window does not charge the scope for time before it ever reported (docs/api.md, "OEE").
      const window = chosen.basis === 'requested' ? { ...chosen, startsAtFirstData: false } : startAtFirstData(chosen, firstKnownMs(tl.values()))
      // The planned windows (shifts united, clipped), then each shift occurrence clipped: counts are
      // summed by InfluxDB per window, so the answer is a handful of rows whatever the window's length.
      const planned = plannedWindows(factory.shifts, factory.timezone, window.startMs, window.endMs)
      const occurrences = q.by === 'shift' ? shiftsInWindow(factory.shifts, factory.timezone, window.startMs, window.endMs) : []
      const windows = [...planned, ...occurrences.map((o) => clipWindow(o, window)!)]
      const counts = await deps.manufacturing.countsInWindows(scope, windows)
      const data: MachineData[] = machines.map((m) => {
        const key = machineKey(m.zone, m.factory, m.line, m.machine)
        return { m, intervals: tl.get(key) ?? [], counts: counts.get(key) ?? [] }
      })
      const body = {
        scope: { zone: scope.zone, factory: scope.factory, line: scope.line, machine: scope.machine ?? null },
        start: isoOf(window.startMs),
        end: isoOf(window.endMs),
        window: {
          basis: chosen.basis,
          description: describeWindow(chosen, factory.shifts, factory.timezone, window.startsAtFirstData),
          shift: chosen.shift && { name: chosen.shift.name, date: chosen.shift.date, start: isoOf(chosen.shift.startMs), end: isoOf(chosen.shift.endMs) },
          startsAtFirstData: window.startsAtFirstData,
        },
        timezone: factory.timezone,
        shiftCalendar: factory.shifts,
        oee: oeeOver(data, windows, planned.map((_, i) => i)) as OeeResult,
      }
      if (q.by === 'window') return body
      const shifts = occurrences.map((occ, j) => {
        const i = planned.length + j
        const clipped = windows[i]!
        return { name: occ.name, date: occ.date, start: isoOf(occ.startMs), end: isoOf(occ.endMs), clippedToWindow: clipped.startMs !== occ.startMs || clipped.endMs !== occ.endMs, oee: oeeOver(data, windows, [i]) }
      })
      return { ...body, shifts }
    },
  )
}
