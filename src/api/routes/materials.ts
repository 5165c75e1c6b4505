import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod'
import { z } from 'zod'
import { NAME_PATTERN } from '../../domain/ids.js'
import { consumptionByWorkOrder, loadedNow } from '../../domain/material-inventory.js'
import type { ApiDeps } from '../api-deps.js'
import { apiKeyOf } from '../auth.js'
import { isoOf } from '../history.js'
import { workOrderStates } from '../materials-states.js'
import { nodeJson, traceLot, traceNodeAnswer } from '../materials-trace.js'
import { isoTime, machineRef, scopeAnswer } from '../answer-schemas.js'
import { durationMs, durationParam, resolveWindow, scopeQuery, timeParam } from '../params.js'
import { resolveScope } from '../scope.js'

const lotParam = z.string().regex(NAME_PATTERN, 'must be 1-128 characters of [A-Za-z0-9_.:/-]')
const DAY_MS = 86_400_000
const materialUse = z.object({
  material: z.string(),
  unit: z.string(),
  consumed: z.number(),
  expected: z.number().nullable().describe('produced quantity × the bill of materials; null without one'),
  variance: z.number().nullable(),
  variancePct: z.number().nullable(),
})
const MAX_LOTS = 2000
const MAX_ROWS = 100_000

/** Materials and traceability (docs/materials.md): lot genealogy, consumption against bills of materials, what is loaded now. */
export const materialsRoutes: FastifyPluginAsyncZod<ApiDeps> = async (app, deps) => {
  const reader = deps.materials

  app.get(
    '/materials/lots/:lot/trace',
    {
      schema: {
        tags: ['materials'],
        summary: "A lot's genealogy: the lots it was made from (back) or went into (forward), with quantities, machines, time spans and inspections",
        description:
          "Back: the work orders that produced the lot and the lots they consumed on the same machine, level by level. Forward: the work orders that consumed the lot and the lots they produced. `depth` counts links from the lot. A lot met again on its own path is a cycle (bad data): listed in `cycles`, shown with `cycle: true`, not followed. Each lot carries its inspections (quality points whose `lot` is this lot, newest 20) and a summary of all of them. See docs/materials.md.",
        security: [{ bearerAuth: [] }],
        params: z.object({ lot: lotParam }),
        querystring: z.object({
          ...scopeQuery,
          direction: z.enum(['back', 'forward']).default('back'),
          depth: z.coerce.number().int().min(1).max(20).default(5),
          start: timeParam.optional().describe('default: end minus 30 days'),
          end: timeParam.optional().describe('default: now'),
          states: z.enum(['true', 'false']).default('false').describe("true: each producing work order's machine states over its span (first consumption to last production)"),
        }),
        response: {
          200: z.object({
            lot: z.string(),
            direction: z.enum(['back', 'forward']),
            depth: z.number(),
            start: isoTime,
            end: isoTime,
            found: z.boolean().describe('the lot has an origin or a link in the window'),
            lots: z.number(),
            cycles: z.array(z.array(z.string())).describe('each cycle once, as the lots along it, the first repeated at the end'),
            truncated: z.boolean(),
            tree: traceNodeAnswer,
          }),
        },
      },
    },
    async (request) => {
      const q = request.query
      const scope = resolveScope(deps.registry.current(), apiKeyOf(request), q)
      const window = resolveWindow(q.start, q.end, 30 * DAY_MS, deps.config.maxWindowMs)
      const t = await traceLot(reader, { scope, lot: request.params.lot, direction: q.direction, depth: q.depth, startMs: window.startMs, endMs: window.endMs, maxLots: MAX_LOTS, maxRows: MAX_ROWS })
      return {
        lot: request.params.lot,
        direction: q.direction,
        depth: q.depth,
        start: isoOf(window.startMs),
        end: isoOf(window.endMs),
        found: t.tree.root.origins.length > 0 || t.tree.root.children.length > 0,
        lots: t.tree.nodes,
        cycles: t.tree.cycles.map((c) => [...c]),
        truncated: t.truncated,
        tree: nodeJson(t.tree.root, t.inspections, q.states === 'true' ? await workOrderStates(deps, t.tree.root) : undefined),
      }
    },
  )

  app.get(
    '/materials/consumption',
    {
      schema: {
        tags: ['materials'],
        summary: 'Consumption per work order and material over a window, against the bill of materials of the product',
        description:
          "Expected = produced quantity × the product's bill-of-materials quantity per unit (registry, docs/registry.md); variance = consumed − expected. Quantities are summed per unit, never converted. `materials` totals the consumption per material over the window.",
        security: [{ bearerAuth: [] }],
        querystring: z.object({
          ...scopeQuery,
          workOrder: z.string().min(1).max(256).optional(),
          material: lotParam.optional(),
          start: timeParam.optional().describe('default: end minus 24 hours'),
          end: timeParam.optional().describe('default: now'),
        }),
        response: {
          200: z.object({
            scope: scopeAnswer,
            start: isoTime,
            end: isoTime,
            truncated: z.boolean(),
            workOrders: z.array(
              z.object({
                workOrder: z.string(),
                product: z.string().nullable(),
                produced: z.number(),
                producedUnit: z.string().nullable(),
                machines: z.array(machineRef),
                bom: z.boolean().describe('the product has a bill of materials in the registry'),
                materials: z.array(materialUse),
                start: isoTime,
                end: isoTime,
              }),
            ),
            materials: z.array(z.object({ material: z.string(), unit: z.string(), consumed: z.number() })),
          }),
        },
      },
    },
    async (request) => {
      const q = request.query
      const registry = deps.registry.current()
      const scope = resolveScope(registry, apiKeyOf(request), q)
      const window = resolveWindow(q.start, q.end, DAY_MS, deps.config.maxWindowMs)
      const { rows, truncated } = await reader.movements({ scope, movements: ['consumed', 'produced'], workOrder: q.workOrder, startMs: window.startMs, endMs: window.endMs }, MAX_ROWS)
      const bomOf = (factory: string, product: string) => registry.factory(factory)?.factory.products.find((p) => p.id === product)?.bom
      const orders = consumptionByWorkOrder(rows, bomOf)
        .map((o) => ({ ...o, materials: o.materials.filter((m) => q.material === undefined || m.material === q.material) }))
        .filter((o) => q.material === undefined || o.materials.length > 0)
      const totals = new Map<string, { material: string; unit: string; consumed: number }>()
      for (const o of orders) {
        for (const m of o.materials) {
          const t = totals.get(`${m.material}|${m.unit}`) ?? { material: m.material, unit: m.unit, consumed: 0 }
          t.consumed = Math.round((t.consumed + m.consumed) * 1e6) / 1e6
          totals.set(`${m.material}|${m.unit}`, t)
        }
      }
      return {
        scope,
        start: isoOf(window.startMs),
        end: isoOf(window.endMs),
        truncated,
        workOrders: orders.map(({ firstMs, lastMs, ...o }) => ({ ...o, machines: [...o.machines], start: isoOf(firstMs), end: isoOf(lastMs) })),
        materials: [...totals.values()].sort((a, b) => a.material.localeCompare(b.material)),
      }
    },
  )

  app.get(
    '/materials/loaded',
    {
      schema: {
        tags: ['materials'],
        summary: 'What is loaded at each machine now',
        description: 'From the loaded, consumed, scrapped and unloaded movements of the lookback: a lot is on a machine from its last load until it is unloaded or used up. Lots loaded before the lookback are not seen.',
        security: [{ bearerAuth: [] }],
        querystring: z.object({ ...scopeQuery, lookback: durationParam.default('7d') }),
        response: {
          200: z.object({
            scope: scopeAnswer,
            asOf: isoTime,
            since: isoTime,
            truncated: z.boolean(),
            machines: z.array(
              machineRef.extend({
                lots: z.array(
                  z.object({ lot: z.string(), material: z.string(), unit: z.string(), loadedAt: isoTime, loaded: z.number(), consumed: z.number(), scrapped: z.number(), remaining: z.number() }),
                ),
              }),
            ),
          }),
        },
      },
    },
    async (request) => {
      const q = request.query
      const scope = resolveScope(deps.registry.current(), apiKeyOf(request), q)
      const endMs = Date.now()
      const startMs = endMs - Math.min(durationMs(q.lookback), deps.config.maxWindowMs)
      const { rows, truncated } = await reader.movements({ scope, movements: ['loaded', 'consumed', 'scrapped', 'unloaded'], startMs, endMs: endMs + 1 }, MAX_ROWS)
      const machines = [...loadedNow(rows).values()].map((m) => ({ ...m.machine, lots: m.lots.map(({ loadedMs, ...l }) => ({ ...l, loadedAt: isoOf(loadedMs) })) }))
      return { scope, asOf: isoOf(endMs), since: isoOf(startMs), truncated, machines }
    },
  )
}
