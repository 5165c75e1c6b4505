import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod'
import { z } from 'zod'
import { machineKey } from '../../domain/machine-key.js'
import type { ApiDeps } from '../api-deps.js'
import { apiKeyOf } from '../auth.js'
import { isoTime } from '../answer-schemas.js'
import { scopeQuery } from '../params.js'
import { machinesInScope, resolveScope, type MachineInScope } from '../scope.js'
import { MachineStateJson, machineStateView, ScopeStateAnswers, STATE_ANSWER_MAX_AGE_MS, stateAnswer, type MachineStateView } from '../state-json.js'
import type { MachineLive } from '../../domain/live-state.js'

const machineState = z.object({
  zone: z.string(),
  factory: z.string(),
  line: z.string(),
  machine: z.string(),
  state: z.string().describe('the reported state, or "offline" when nothing arrived for MACHINE_OFFLINE_AFTER_S, or "unknown"'),
  reportedState: z.string().nullable(),
  reason: z.string().nullable().describe('the reason code of the reported state; null when none was given'),
  alarms: z.array(z.string()),
  since: z.string().nullable().describe('when the machine entered its reported state'),
  lastSeen: z.string().nullable(),
  online: z.boolean().describe('heard from within MACHINE_OFFLINE_AFTER_S and not reported offline (a state "offline", or a Sparkplug NDEATH or DDEATH)'),
})

const named = { id: z.string(), name: z.string().nullable() }
const hierarchy = z.object({
  zones: z.array(
    z.object({
      ...named,
      factories: z.array(
        z.object({
          ...named,
          timezone: z.string(),
          shifts: z.array(z.object({ name: z.string(), start: z.string().describe('local HH:MM'), end: z.string().describe('local HH:MM') })),
          lines: z.array(
            z.object({
              ...named,
              machines: z.array(z.object({ ...named, idealCycleTimeS: z.number(), state: z.string(), lastSeen: isoTime.nullable(), online: z.boolean() })),
            }),
          ),
        }),
      ),
    }),
  ),
})

/** Heard from within MACHINE_OFFLINE_AFTER_S, and not reported offline (a state "offline": a gateway's, or a Sparkplug NDEATH or DDEATH). */
const isOnline = (deps: ApiDeps, e: Readonly<MachineLive> | undefined, nowMs: number) => e?.lastSeenMs !== undefined && nowMs - e.lastSeenMs <= deps.config.offlineAfterMs && e.state !== 'offline'

/** The current state of machines, from the live table: no query, O(machines). */
export function currentStates(deps: ApiDeps, machines: readonly MachineInScope[], nowMs: number): MachineStateView[] {
  return machines.map((m) => {
    const e = deps.live.get(machineKey(m.zone, m.factory, m.line, m.machine))
    return machineStateView(m, e, isOnline(deps, e, nowMs))
  })
}

export const equipmentRoutes: FastifyPluginAsyncZod<ApiDeps> = async (app, deps) => {
  const stateJson = new MachineStateJson()
  const stateAnswers = new ScopeStateAnswers(STATE_ANSWER_MAX_AGE_MS)
  app.get(
    '/hierarchy',
    {
      schema: {
        tags: ['equipment'],
        summary: 'Zones > factories > lines > machines in the key\'s scope, with last seen and online',
        security: [{ bearerAuth: [] }],
        querystring: z.object({ zone: scopeQuery.zone, factory: scopeQuery.factory }),
        response: { 200: hierarchy },
      },
    },
    async (request) => {
      const registry = deps.registry.current()
      const scope = resolveScope(registry, apiKeyOf(request), request.query)
      const states = new Map(currentStates(deps, machinesInScope(registry, scope), Date.now()).map((s) => [machineKey(s.zone, s.factory, s.line, s.machine), s]))
      const zones = registry.zones
        .filter((z) => scope.zone === undefined || z.id === scope.zone)
        .map((z) => ({
          id: z.id,
          name: z.name ?? null,
          factories: z.factories
            .filter((f) => scope.factory === undefined || f.id === scope.factory)
            .map((f) => ({
              id: f.id,
              name: f.name ?? null,
              timezone: f.timezone,
              shifts: f.shifts,
              lines: f.lines.map((l) => ({
                id: l.id,
                name: l.name ?? null,
                machines: l.machines.map((m) => {
                  const s = states.get(machineKey(z.id, f.id, l.id, m.id))
                  return { id: m.id, name: m.name ?? null, idealCycleTimeS: m.idealCycleTimeS, state: s?.state ?? 'unknown', lastSeen: s?.lastSeen ?? null, online: s?.online ?? false }
                }),
              })),
            })),
        }))
      return { zones }
    },
  )

  app.get(
    '/equipment/state',
    {
      schema: {
        tags: ['equipment'],
        summary: 'Current state of every machine in a scope',
        description: 'State, reason, alarms, since when, last seen and online; a machine silent for MACHINE_OFFLINE_AFTER_S is "offline". Served from the live table kept by the pipeline; a scope\'s answer is built at most every 50 ms and `at` says when.',
        security: [{ bearerAuth: [] }],
        querystring: z.object(scopeQuery),
        response: { 200: z.object({ at: z.string(), count: z.number(), byState: z.record(z.string(), z.number()), machines: z.array(machineState) }) },
      },
    },
    async (request, reply) => {
      const registry = deps.registry.current()
      const scope = resolveScope(registry, apiKeyOf(request), request.query)
      const scopeKey = `${scope.zone ?? ''}/${scope.factory ?? ''}/${scope.line ?? ''}/${scope.machine ?? ''}`
      const list = () => machinesInScope(registry, scope).map((m) => ({ m, key: machineKey(m.zone, m.factory, m.line, m.machine) }))
      const body = stateAnswers.body(registry, scopeKey, Date.now(), list, (machines, now) => {
        const byState: Record<string, number> = {}
        const parts: Buffer[] = []
        for (const { m, key } of machines) {
          const e = deps.live.get(key)
          const { bytes, shown } = stateJson.of(key, m, e, isOnline(deps, e, now))
          parts.push(bytes)
          byState[shown] = (byState[shown] ?? 0) + 1
        }
        return stateAnswer(now, byState, parts)
      })
      // Already JSON (the schema above documents it): Fastify sends a Buffer as it is.
      return reply.type('application/json; charset=utf-8').send(body as never)
    },
  )

  app.get(
    '/equipment/alarms',
    {
      schema: {
        tags: ['equipment'],
        summary: 'Active alarms: machines whose latest state report carries alarm codes',
        security: [{ bearerAuth: [] }],
        querystring: z.object(scopeQuery),
        response: { 200: z.object({ count: z.number(), alarms: z.array(machineState) }) },
      },
    },
    async (request) => {
      const registry = deps.registry.current()
      const scope = resolveScope(registry, apiKeyOf(request), request.query)
      const alarms = currentStates(deps, machinesInScope(registry, scope), Date.now()).filter((m) => m.alarms.length > 0)
      return { count: alarms.length, alarms }
    },
  )
}
