import { buildTrace, nextLot, type LotLink, type LotOrigin, type TraceDirection, type TraceNode, type TraceTree } from '../domain/genealogy.js'
import { linksOf, lotUses, originsByLot, orderKey, type LotUse } from '../domain/material-movements.js'
import type { StateInterval } from '../domain/state-timeline.js'
import type { InspectionRow, MaterialsReader, MovementQuery, Scope } from '../storage/ports.js'
import { z } from 'zod'
import { inspection, isoTime, machineRef, stateInterval } from './answer-schemas.js'
import { isoOf } from './history.js'
import { createLineCache } from './line-cache.js'
import { badRequest } from './problem.js'

export interface TraceRequest {
  readonly scope: Scope
  readonly lot: string
  readonly direction: TraceDirection
  readonly depth: number
  readonly startMs: number
  readonly endMs: number
  /** Lots at most in the answer, and movements at most per read. */
  readonly maxLots: number
  readonly maxRows: number
}

export interface TraceResult {
  readonly tree: TraceTree
  /** True when a bound (lots or movements read) cut the trace short. */
  readonly truncated: boolean
  readonly inspections: ReadonlyMap<string, InspectionRow[]>
}

/** Inspections listed per lot (the summary counts all that were read), and read at most per lot on average. */
const INSPECTIONS_LISTED = 20
const INSPECTIONS_READ_PER_LOT = 200

/**
 * Walks the genealogy one level per round trip (docs/materials.md, "Trace
 * semantics"): back, the work orders that produced the frontier's lots and
 * what they consumed; forward, the work orders that consumed them and what
 * they produced. Lots already met are not read again, so bad data with a
 * cycle ends the walk; the tree (src/domain/genealogy.ts) reports the cycle.
 */
export async function traceLot(db: MaterialsReader, r: TraceRequest): Promise<TraceResult> {
  let truncated = false
  const cache = createLineCache(db, r)
  const reader = cache.reader
  const read = async (q: Omit<MovementQuery, 'startMs' | 'endMs' | 'scope'>, scope: Scope): Promise<LotUse[]> => {
    // The whole window, also after a lot's consumption: a lot may still be in production while the next machine uses it, and its origin counts all of it.
    const res = await reader.movements({ ...q, scope, startMs: r.startMs, endMs: r.endMs }, r.maxRows)
    truncated ||= res.truncated
    return lotUses(res.rows)
  }
  const origins = new Map<string, LotOrigin[]>()
  const links: LotLink[] = []
  const seen = new Set([r.lot])
  let frontier = [r.lot]
  let scope = r.scope
  /** Back: where each frontier lot was consumed (its line), which is where its origin is looked for first. */
  let consumedAt = new Map<string, LotLink>()
  const findOrigins = async (lots: readonly string[]): Promise<LotUse[]> => {
    if (consumedAt.size === 0) return read({ movements: ['produced', 'received'], lots }, scope)
    // A lot consumed on a line was most likely made (or received) on that line: look there first, then in the whole factory.
    const byLine = new Map<string, { scope: Scope; lots: string[] }>()
    for (const lot of lots) {
      const at = consumedAt.get(lot)!
      const key = `${at.zone}/${at.factory}/${at.line}`
      const g = byLine.get(key) ?? { scope: { zone: at.zone, factory: at.factory, line: at.line }, lots: [] }
      g.lots.push(lot)
      byLine.set(key, g)
    }
    const near = (await Promise.all([...byLine.values()].map((g) => read({ movements: ['produced', 'received'], lots: g.lots }, g.scope)))).flat()
    const found = new Set(near.map((u) => u.lot))
    const rest = lots.filter((l) => !found.has(l))
    return rest.length === 0 ? near : [...near, ...(await read({ movements: ['produced', 'received'], lots: rest }, scope))]
  }
  for (let level = 0; frontier.length > 0; level++) {
    // Forward, the lots past the root were found by their production: their origins are known.
    const originUses = r.direction === 'back' || level === 0 ? await findOrigins(frontier) : []
    for (const [lot, list] of originsByLot(originUses)) origins.set(lot, list)
    if (level === 0) {
      scope = narrowed(scope, r.lot, origins.get(r.lot) ?? [])
      // Back, the trace mostly stays on the line that made the lot: read that line once, if it is not too much.
      const made = (origins.get(r.lot) ?? []).filter((o) => o.movement === 'produced')
      if (r.direction === 'back' && made.length === 1 && db.covers?.(r.startMs) !== true) await cache.load(made[0]!)
    }
    if (level === r.depth) break
    let found: LotLink[]
    if (r.direction === 'back') {
      const consumed = await read({ movements: ['consumed'], orders: ordersOf(originUses.filter((u) => u.movement === 'produced')) }, scope)
      found = linksOf(consumed, originUses)
    } else {
      const consumed = await read({ movements: ['consumed'], lots: frontier }, scope)
      const produced = await read({ movements: ['produced'], orders: ordersOf(consumed) }, scope)
      for (const [lot, list] of originsByLot(produced)) origins.set(lot, list)
      found = linksOf(consumed, produced)
    }
    frontier = []
    consumedAt = new Map()
    for (const l of found) {
      const lot = nextLot(l, r.direction)
      if (!seen.has(lot)) {
        // Past the bound a lot is left out of the tree altogether, not shown without its origins.
        if (seen.size >= r.maxLots) {
          truncated = true
          continue
        }
        seen.add(lot)
        frontier.push(lot)
      }
      links.push(l)
      if (r.direction === 'back' && !consumedAt.has(lot)) consumedAt.set(lot, l)
    }
  }
  const tree = buildTrace({ root: r.lot, direction: r.direction, depth: r.depth, origins, links, maxNodes: r.maxLots * 4 })
  const lots = [...seen]
  const rows = await reader.inspectionsOfLots(scope, lots, r.startMs, r.endMs, Math.min(50_000, lots.length * INSPECTIONS_READ_PER_LOT))
  const inspections = new Map<string, InspectionRow[]>()
  for (const row of rows) {
    const list = inspections.get(row.lot ?? '') ?? []
    list.push(row)
    inspections.set(row.lot ?? '', list)
  }
  return { tree, truncated: truncated || tree.truncated, inspections }
}

/**
 * Lot ids are unique within a factory, not across them: once the root is found in one factory,
 * the rest of the walk reads only that factory. Found in several, the trace would merge different
 * physical lots (a recall pulling in another factory's products): the caller must name one.
 */
function narrowed(scope: Scope, lot: string, rootOrigins: readonly LotOrigin[]): Scope {
  const factories = new Set(rootOrigins.map((o) => `${o.zone}/${o.factory}`))
  if (scope.factory === undefined && factories.size > 1) throw badRequest('factory', `lot "${lot}" exists in ${factories.size} factories (${[...factories].sort().join(', ')}): name one with factory=`)
  if (scope.factory !== undefined || factories.size !== 1) return scope
  const o = rootOrigins[0]!
  return { ...scope, zone: o.zone, factory: o.factory }
}

function ordersOf(uses: readonly LotUse[]): (LotUse & { workOrder: string })[] {
  const out = new Map<string, LotUse & { workOrder: string }>()
  for (const u of uses) if (u.workOrder !== null) out.set(orderKey(u), u as LotUse & { workOrder: string })
  return [...out.values()]
}

export interface QualitySummary {
  readonly inspections: number
  readonly passed: number
  readonly failed: number
  /** passed / (passed + failed); null without a judged inspection. */
  readonly passRate: number | null
  readonly defects: readonly { readonly code: string; readonly count: number }[]
}

export function qualitySummary(rows: readonly InspectionRow[]): QualitySummary {
  const passed = rows.filter((i) => i.pass === true).length
  const failed = rows.filter((i) => i.pass === false).length
  const defects = new Map<string, number>()
  for (const i of rows) if (i.defectCode) defects.set(i.defectCode, (defects.get(i.defectCode) ?? 0) + 1)
  return {
    inspections: rows.length,
    passed,
    failed,
    passRate: passed + failed === 0 ? null : Math.round((passed / (passed + failed)) * 10_000) / 10_000,
    defects: [...defects].map(([code, count]) => ({ code, count })).sort((a, b) => b.count - a.count || a.code.localeCompare(b.code)),
  }
}

const span = (x: { firstMs: number; lastMs: number }) => ({ start: isoOf(x.firstMs), end: isoOf(x.lastMs) })
const machine = (x: { zone: string; factory: string; line: string; machine: string }) => ({ zone: x.zone, factory: x.factory, line: x.line, machine: x.machine })

const stateJson = (i: StateInterval) => ({ state: i.state, reason: i.reason || null, start: isoOf(i.startMs), end: isoOf(i.endMs), durationS: i.durationMs / 1000 })

const qualityAnswer = z.object({
  inspections: z.number(),
  passed: z.number(),
  failed: z.number(),
  passRate: z.number().nullable(),
  defects: z.array(z.object({ code: z.string(), count: z.number() })),
})

/** A lot of the trace as the API answers it, with the lots it was made from or went into. */
export interface TraceNodeAnswer {
  lot: string
  material: string | null
  origins: z.output<typeof originAnswer>[]
  link: z.output<typeof linkAnswer> | null
  cycle: boolean
  quality: z.output<typeof qualityAnswer>
  inspections: z.output<typeof inspection>[]
  children: TraceNodeAnswer[]
}

const originAnswer = machineRef.extend({
  movement: z.enum(['produced', 'received']),
  workOrder: z.string().nullable(),
  quantity: z.number(),
  unit: z.string(),
  start: isoTime,
  end: isoTime,
  machineStates: z.array(stateInterval).optional().describe("with states=true, for a producing work order: its machine's states over its span"),
})
const linkAnswer = machineRef.extend({ workOrder: z.string(), consumedLot: z.string(), quantity: z.number(), unit: z.string(), start: isoTime, end: isoTime })

export const traceNodeAnswer: z.ZodType<TraceNodeAnswer> = z.object({
  lot: z.string(),
  material: z.string().nullable(),
  origins: z.array(originAnswer),
  link: linkAnswer.nullable().describe('the consumption that joins this lot to the one above it; null at the root'),
  cycle: z.boolean(),
  quality: qualityAnswer,
  inspections: z.array(inspection).describe('the newest 20'),
  get children() {
    return z.array(traceNodeAnswer)
  },
}).meta({ id: 'TraceNode' })

/** A node as the API answers it (docs/api.md); `states`, when asked for, by `orderKey` of a producing work order. */
export function nodeJson(n: TraceNode, inspections: ReadonlyMap<string, InspectionRow[]>, states?: ReadonlyMap<string, StateInterval[]>): TraceNodeAnswer {
  const rows = inspections.get(n.lot) ?? []
  const quality = qualitySummary(rows)
  return {
    lot: n.lot,
    material: n.origins[0]?.material ?? (n.via && n.via.input === n.lot ? n.via.material : null),
    origins: n.origins.map((o) => {
      const during = states && o.movement === 'produced' ? { machineStates: (states.get(orderKey(o)) ?? []).map(stateJson) } : {}
      return { movement: o.movement, ...machine(o), workOrder: o.workOrder, quantity: o.quantity, unit: o.unit, ...span(o), ...during }
    }),
    link: n.via && { ...machine(n.via), workOrder: n.via.workOrder, consumedLot: n.via.input, quantity: n.via.quantity, unit: n.via.unit, ...span(n.via) },
    cycle: n.cycle,
    quality: { ...quality, defects: [...quality.defects] },
    inspections: rows.slice(0, INSPECTIONS_LISTED),
    children: n.children.map((c) => nodeJson(c, inspections, states)),
  }
}
