import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod'
import { z } from 'zod'
import { machineKey } from '../../domain/machine-key.js'
import { lineOee, machineOee, type OeeResult } from '../../domain/oee.js'
import { defaultOeeWindow, describeWindow, machineStartMs, type ChosenWindow } from '../../domain/oee-window.js'
import { plannedWindows, shiftsInWindow } from '../../domain/shifts.js'
import type { StateInterval } from '../../domain/state-timeline.js'
import { clipWindow, type TimeWindow } from '../../domain/time-window.js'
import { AppError } from '../../errors.js'
import type { ApiDeps } from '../api-deps.js'
import { oeeAnswer, isoTime } from '../answer-schemas.js'
import { apiKeyOf } from '../auth.js'
import { isoOf, timelines } from '../history.js'
import { resolveWindow, scopeQuery, slugParam, timeParam } from '../params.js'
import { machinesInScope, resolveScope, type MachineInScope } from '../scope.js'

/** The part of the window one machine is measured over, as indexes into the request's count windows. */
interface MachineWindows {
  readonly startMs: number
  /** The planned windows (shifts united, clipped to the machine's part). */
  readonly planned: readonly number[]
  /** Per shift occurrence of the answer (`by=shift`): its window clipped to the machine's part, if they meet. */
  readonly occurrences: readonly (number | undefined)[]
}

interface MachineData {
  readonly m: MachineInScope
  readonly intervals: readonly StateInterval[]
  readonly win: MachineWindows
  /** Counts per count window, same order. */
  readonly counts: readonly { good: number; reject: number }[]
}

/** OEE over the windows each machine picks: per machine, and rolled up when there are several. */
function oeeOver(data: readonly MachineData[], windows: readonly TimeWindow[], pick: (w: MachineWindows) => readonly (number | undefined)[]) {
  const machines = data.map((d) => {
    const indexes = pick(d.win).filter((i): i is number => i !== undefined)
    let good = 0
    let reject = 0
    for (const i of indexes) {
      good += d.counts[i]?.good ?? 0
      reject += d.counts[i]?.reject ?? 0
    }
    const ws = indexes.map((i) => windows[i]!)
    return { machine: d.m.machine, line: d.m.line, start: isoOf(d.win.startMs), ...machineOee({ intervals: d.intervals, windows: ws, idealCycleTimeS: d.m.idealCycleTimeS, goodCount: good, rejectCount: reject }) }
  })
  if (machines.length === 1) return { ...machines[0]!, machines: undefined }
  const line = lineOee(machines)
  return { ...line, machines: [...line.machines] }
}

const oeeBody = z.object({
  scope: z.object({ zone: z.string().optional(), factory: z.string().optional(), line: z.string().optional(), machine: z.string().nullable() }),
  start: isoTime,
  end: isoTime,
  window: z.object({
    basis: z.string().describe('how the window was chosen: requested, or a default (the current or last shift, or the last 24 hours)'),
    description: z.string(),
    shift: z.object({ name: z.string(), date: z.string(), start: isoTime, end: isoTime }).nullable(),
    machinesFromFirstState: z.number().describe('machines measured from their first reported state, later than the window start'),
  }),
  timezone: z.string(),
  shiftCalendar: z.array(z.object({ name: z.string(), start: z.string(), end: z.string() })),
  oee: oeeAnswer,
})
const shiftOee = z.object({ name: z.string(), date: z.string(), start: isoTime, end: isoTime, clippedToWindow: z.boolean(), oee: oeeAnswer })

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
        response: { 200: oeeBody.extend({ shifts: z.array(shiftOee).optional().describe('with by=shift: each shift occurrence in the window') }) },
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
      const keys = machines.map((m) => machineKey(m.zone, m.factory, m.line, m.machine))
      const timeline = timelines(deps, scope, machines, chosen.startMs, chosen.endMs)
      // A default window does not charge a machine for time before it ever reported (docs/api.md, "OEE
      // window"), so its counts' windows wait for the timelines; a requested window's need not, and both
      // queries then run at once.
      let tl = chosen.basis === 'requested' ? undefined : await timeline
      const starts = keys.map((k) => (tl === undefined ? chosen.startMs : machineStartMs(chosen, tl.get(k) ?? [])))
      const startMs = Math.min(...starts, chosen.endMs)
      const occurrences = q.by === 'shift' ? shiftsInWindow(factory.shifts, factory.timezone, startMs, chosen.endMs) : []
      // Per distinct machine start: the planned windows, then each shift occurrence, clipped. Counts are
      // summed by InfluxDB per window, so the answer is a handful of rows whatever the window's length.
      const windows: TimeWindow[] = []
      const push = (w: TimeWindow) => windows.push(w) - 1
      const sets = new Map<number, MachineWindows>()
      const windowsFrom = (from: number): MachineWindows => {
        let set = sets.get(from)
        if (!set) {
          const part = { startMs: from, endMs: chosen.endMs }
          const planned = plannedWindows(factory.shifts, factory.timezone, from, chosen.endMs).map(push)
          set = { startMs: from, planned, occurrences: occurrences.map((o) => { const c = clipWindow(o, part); return c && push(c) }) }
          sets.set(from, set)
        }
        return set
      }
      const wins = starts.map(windowsFrom)
      const counted = deps.manufacturing.countsInWindows(scope, windows)
      // Both awaited together: a failure of either is the answer's, and neither is left unhandled.
      const [timelinesDone, counts] = await Promise.all([timeline, counted])
      tl ??= timelinesDone
      const data: MachineData[] = machines.map((m, i) => ({ m, intervals: tl.get(keys[i]!) ?? [], win: wins[i]!, counts: counts.get(keys[i]!) ?? [] }))
      const fromFirstState = starts.filter((s) => s > chosen.startMs).length
      const body = {
        scope: { zone: scope.zone, factory: scope.factory, line: scope.line, machine: scope.machine ?? null },
        start: isoOf(startMs),
        end: isoOf(chosen.endMs),
        window: {
          basis: chosen.basis,
          description: describeWindow(chosen, factory.shifts, factory.timezone, fromFirstState > 0),
          shift: chosen.shift && { name: chosen.shift.name, date: chosen.shift.date, start: isoOf(chosen.shift.startMs), end: isoOf(chosen.shift.endMs) },
          machinesFromFirstState: fromFirstState,
        },
        timezone: factory.timezone,
        shiftCalendar: factory.shifts,
        oee: oeeOver(data, windows, (w) => w.planned) as OeeResult,
      }
      if (q.by === 'window') return body
      const shifts = occurrences.map((occ, j) => {
        const clippedToWindow = occ.startMs < startMs || occ.endMs > chosen.endMs
        return { name: occ.name, date: occ.date, start: isoOf(occ.startMs), end: isoOf(occ.endMs), clippedToWindow, oee: oeeOver(data, windows, (w) => [w.occurrences[j]]) }
      })
      return { ...body, shifts }
    },
  )
}
