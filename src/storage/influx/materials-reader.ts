import { MEASUREMENTS } from '../../domain/measurements.js'
import type { MovementRow } from '../../domain/material-movements.js'
import type { MovementKind } from '../../domain/records.js'
import type { InspectionRow, MaterialsReader, MovementQuery, Scope } from '../ports.js'
import type { BindParams, InfluxQLClient, InfluxSeries } from './influxql-client.js'
import { scopeConditions } from './scope-conditions.js'

/** Lots or work orders per statement, and statements per request: keeps each URL a few tens of KB. */
const LOTS_PER_STATEMENT = 40
const STATEMENTS_PER_REQUEST = 8
const MACHINE_GROUP = 'GROUP BY "zone", "factory", "line", "machine"'

const iso = (ms: number) => new Date(ms).toISOString()

function chunks<T>(items: readonly T[], n: number): T[][] {
  const out: T[][] = []
  for (let i = 0; i < items.length; i += n) out.push(items.slice(i, i + n))
  return out
}

/** A statement's window and scope conditions, its parameter names suffixed with `i` so several statements share one request. */
function windowAndScope(i: number, scope: Scope, startMs: number, endMs: number): { where: string[]; params: BindParams } {
  const scoped: BindParams = {}
  const where = scopeConditions(scope, scoped).map((c) => c.replace(/\$(\w+)/, (_, name: string) => `$${name}${i}`))
  const params: BindParams = { [`s${i}`]: iso(startMs), [`e${i}`]: iso(endMs) }
  for (const [k, v] of Object.entries(scoped)) params[`${k}${i}`] = v
  where.push(`time >= $s${i}`, `time < $e${i}`)
  return { where, params }
}

function columns(s: InfluxSeries): (row: unknown[], name: string) => unknown {
  const index = new Map(s.columns.map((c, i) => [c, i]))
  return (row, name) => {
    const i = index.get(name)
    return i === undefined ? undefined : row[i]
  }
}

/**
 * InfluxQL behind the materials endpoints. Lots and work orders are fields
 * (unbounded, docs/storage.md): they are matched inside series the tags
 * already narrowed (movement, and the machines of a work order), with every
 * value a bind parameter; many lots become several statements in one request.
 */
export function createInfluxMaterialsReader(client: InfluxQLClient): MaterialsReader {
  async function run(statements: { q: string; params: BindParams }[]): Promise<InfluxSeries[]> {
    const out: InfluxSeries[] = []
    for (const group of chunks(statements, STATEMENTS_PER_REQUEST)) {
      // Each statement's parameters carry its index, so one request can hold them all.
      const params: BindParams = Object.assign({}, ...group.map((s) => s.params))
      for (const series of await client.selectMany(group.map((s) => s.q), params)) out.push(...series)
    }
    return out
  }

  return {
    async movements(query: MovementQuery, limit) {
      if (query.movements.length === 0 || query.lots?.length === 0 || query.orders?.length === 0) return { rows: [], truncated: false }
      const base = (i: number): { where: string[]; params: BindParams } => {
        const { where, params } = windowAndScope(i, query.scope, query.startMs, query.endMs)
        if (query.workOrder !== undefined) {
          where.push(`"work_order" = $wo${i}`)
          params[`wo${i}`] = query.workOrder
        }
        where.push(`(${query.movements.map((m, j) => ((params[`mv${i}_${j}`] = m), `"movement" = $mv${i}_${j}`)).join(' OR ')})`)
        return { where, params }
      }
      const select = (where: string[]) => `SELECT "material", "lot", "quantity", "unit", "work_order", "warning" FROM "${MEASUREMENTS.material}" WHERE ${where.join(' AND ')} ${MACHINE_GROUP}, "movement" ORDER BY time ASC LIMIT ${Math.trunc(limit) + 1}`
      const statements: { q: string; params: BindParams }[] = []
      const lotGroups = query.lots ? chunks(query.lots, LOTS_PER_STATEMENT) : [undefined]
      const orderGroups = query.orders ? chunks(query.orders, LOTS_PER_STATEMENT / 2) : [undefined]
      for (const lots of lotGroups) {
        for (const orders of orderGroups) {
          const i = statements.length
          const { where, params } = base(i)
          if (lots) where.push(`(${lots.map((lot, j) => ((params[`l${i}_${j}`] = lot), `"lot" = $l${i}_${j}`)).join(' OR ')})`)
          if (orders) {
            const conds = orders.map((o, j) => {
              const p = `o${i}_${j}_`
              Object.assign(params, { [`${p}z`]: o.zone, [`${p}f`]: o.factory, [`${p}l`]: o.line, [`${p}m`]: o.machine, [`${p}w`]: o.workOrder })
              return `("zone" = $${p}z AND "factory" = $${p}f AND "line" = $${p}l AND "machine" = $${p}m AND "work_order" = $${p}w)`
            })
            where.push(`(${conds.join(' OR ')})`)
          }
          statements.push({ q: select(where), params })
        }
      }
      const rows: MovementRow[] = []
      for (const s of await run(statements)) {
        const col = columns(s)
        const tags = s.tags ?? {}
        for (const r of s.values ?? []) {
          const t = (name: string) => (col(r, name) as string | null | undefined) ?? null
          rows.push({
            tsMs: col(r, 'time') as number,
            zone: tags.zone ?? '',
            factory: tags.factory ?? '',
            line: tags.line ?? '',
            machine: tags.machine ?? '',
            movement: tags.movement as MovementKind,
            material: t('material') ?? '',
            lot: t('lot') ?? '',
            quantity: (col(r, 'quantity') as number | null) ?? 0,
            unit: t('unit') ?? '',
            workOrder: t('work_order'),
            warning: t('warning'),
          })
        }
      }
      rows.sort((a, b) => a.tsMs - b.tsMs)
      return { rows: rows.slice(0, limit), truncated: rows.length > limit }
    },

    async inspectionsOfLots(scope: Scope, lots, startMs, endMs, limit) {
      if (lots.length === 0) return []
      const statements = chunks(lots, LOTS_PER_STATEMENT).map((group, i) => {
        const { where, params } = windowAndScope(i, scope, startMs, endMs)
        where.push(`(${group.map((lot, j) => ((params[`l${i}_${j}`] = lot), `"lot" = $l${i}_${j}`)).join(' OR ')})`)
        return { q: `SELECT * FROM "${MEASUREMENTS.quality}" WHERE ${where.join(' AND ')} ORDER BY time DESC LIMIT ${Math.trunc(limit)}`, params }
      })
      const rows: (InspectionRow & { tsMs: number })[] = []
      for (const s of await run(statements)) {
        const col = columns(s)
        for (const r of s.values ?? []) {
          const n = (name: string) => (col(r, name) as number | null | undefined) ?? null
          const t = (name: string) => (col(r, name) as string | null | undefined) ?? null
          const tsMs = col(r, 'time') as number
          rows.push({ tsMs, time: iso(tsMs), zone: t('zone')!, factory: t('factory')!, line: t('line')!, machine: t('machine')!, characteristic: t('characteristic')!, value: n('value')!, lsl: n('lsl'), usl: n('usl'), target: n('target'), unit: t('unit'), pass: (col(r, 'pass') as boolean | null | undefined) ?? null, defectCode: t('defect_code'), lot: t('lot') })
        }
      }
      rows.sort((a, b) => b.tsMs - a.tsMs)
      return rows.slice(0, limit).map(({ tsMs: _, ...row }) => row)
    },
  }
}
