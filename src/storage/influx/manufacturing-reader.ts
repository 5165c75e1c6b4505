import { MEASUREMENTS } from '../../domain/measurements.js'
import { machineKey, type MachineKey } from '../../domain/machine-key.js'
import type { CountBucket, InspectionRow, LinkSummary, ManufacturingReader, StateHistory, StatePoint } from '../ports.js'
import type { BindParams, InfluxQLClient, InfluxSeries } from './influxql-client.js'
import { scopeConditions } from './scope-conditions.js'

const MACHINE_GROUP = 'GROUP BY "zone", "factory", "line", "machine"'
const LINK_METRICS = ['rsrp_dbm', 'rsrq_db', 'sinr_db', 'rtt_ms', 'uplink_mbps', 'downlink_mbps'] as const
const MAX_ROWS = 200_000
const WINDOWS_PER_REQUEST = 40

const keyOf = (tags: Record<string, string> | undefined): MachineKey => machineKey(tags?.zone ?? '', tags?.factory ?? '', tags?.line ?? '', tags?.machine ?? '')
const iso = (ms: number) => new Date(ms).toISOString()

/** Column accessor for one series. */
function columns(s: InfluxSeries): (row: unknown[], name: string) => unknown {
  const index = new Map(s.columns.map((c, i) => [c, i]))
  return (row, name) => {
    const i = index.get(name)
    return i === undefined ? undefined : row[i]
  }
}

function statePoint(col: (row: unknown[], name: string) => unknown, row: unknown[]): StatePoint {
  const alarms = col(row, 'alarms') as string | null
  const since = col(row, 'since_ms') as number | null
  return {
    tsMs: col(row, 'time') as number,
    state: col(row, 'state') as string,
    reason: (col(row, 'reason') as string | null) ?? '',
    alarms: alarms ? alarms.split(',') : [],
    sinceMs: since ?? undefined,
  }
}

/** InfluxQL behind the equipment, production, quality and connectivity endpoints; values only as bind parameters. */
export function createInfluxManufacturingReader(client: InfluxQLClient): ManufacturingReader {
  return {
    async stateHistory(scope, startMs, endMs, lookbackMs) {
      const params: BindParams = { start: iso(startMs), end: iso(endMs), lookback: iso(startMs - lookbackMs) }
      const where = scopeConditions(scope, params)
      const w = (extra: string) => [...where, extra].join(' AND ')
      const fields = '"state", "reason", "alarms", "since_ms"'
      const [inside, before] = await client.selectMany(
        [
          `SELECT ${fields} FROM "${MEASUREMENTS.state}" WHERE ${w('time >= $start AND time < $end')} ${MACHINE_GROUP} ORDER BY time ASC LIMIT ${MAX_ROWS}`,
          `SELECT ${fields} FROM "${MEASUREMENTS.state}" WHERE ${w('time >= $lookback AND time < $start')} ${MACHINE_GROUP} ORDER BY time DESC LIMIT 1`,
        ],
        params,
      )
      const out = new Map<MachineKey, { before: StatePoint | undefined; points: StatePoint[] }>()
      const entry = (key: MachineKey) => {
        let e = out.get(key)
        if (!e) out.set(key, (e = { before: undefined, points: [] }))
        return e
      }
      for (const s of before!) {
        const col = columns(s)
        const row = s.values?.[0]
        if (row) entry(keyOf(s.tags)).before = statePoint(col, row)
      }
      for (const s of inside!) {
        const col = columns(s)
        entry(keyOf(s.tags)).points.push(...(s.values ?? []).map((row) => statePoint(col, row)))
      }
      return out as Map<MachineKey, StateHistory>
    },

    async countBuckets(scope, startMs, endMs, bucketMs, byMachine) {
      const params: BindParams = { start: iso(startMs), end: iso(endMs) }
      const where = [...scopeConditions(scope, params), 'time >= $start', 'time < $end'].join(' AND ')
      const group = `GROUP BY time(${Math.trunc(bucketMs)}ms)${byMachine ? ', "zone", "factory", "line", "machine"' : ''} fill(none)`
      const series = await client.select(`SELECT sum("good") AS "good", sum("reject") AS "reject", sum("total") AS "total" FROM "${MEASUREMENTS.production}" WHERE ${where} ${group}`, params)
      const out = new Map<MachineKey, CountBucket[]>()
      for (const s of series) {
        const rows = (s.values ?? []).map((r) => ({ tsMs: r[0] as number, good: (r[1] as number) ?? 0, reject: (r[2] as number) ?? 0, total: (r[3] as number) ?? 0 }))
        out.set(byMachine ? keyOf(s.tags) : '', rows)
      }
      return out
    },

    async countsInWindows(scope, windows) {
      const out = new Map<MachineKey, { good: number; reject: number }[]>()
      // One statement per window, sent in chunks so a long window with many shifts stays within URL limits.
      for (let from = 0; from < windows.length; from += WINDOWS_PER_REQUEST) {
        const chunk = windows.slice(from, from + WINDOWS_PER_REQUEST)
        const params: BindParams = {}
        const base = scopeConditions(scope, params)
        const statements = chunk.map((w, i) => {
          params[`s${i}`] = iso(w.startMs)
          params[`e${i}`] = iso(w.endMs)
          const where = [...base, `time >= $s${i}`, `time < $e${i}`].join(' AND ')
          return `SELECT sum("good") AS "good", sum("reject") AS "reject" FROM "${MEASUREMENTS.production}" WHERE ${where} ${MACHINE_GROUP}`
        })
        const results = await client.selectMany(statements, params)
        results.forEach((series, i) => {
          for (const s of series) {
            const key = keyOf(s.tags)
            let counts = out.get(key)
            if (!counts) out.set(key, (counts = windows.map(() => ({ good: 0, reject: 0 }))))
            const row = s.values?.[0]
            counts[from + i] = { good: (row?.[1] as number | null) ?? 0, reject: (row?.[2] as number | null) ?? 0 }
          }
        })
      }
      return out
    },

    async inspections(scope, filter, startMs, endMs, limit) {
      const params: BindParams = { start: iso(startMs), end: iso(endMs) }
      const where = [...scopeConditions(scope, params), 'time >= $start', 'time < $end']
      if (filter.characteristic !== undefined) {
        where.push('"characteristic" = $characteristic')
        params.characteristic = filter.characteristic
      }
      if (filter.lot !== undefined) {
        where.push('"lot" = $lot')
        params.lot = filter.lot
      }
      if (filter.pass !== undefined) where.push(`"pass" = ${filter.pass ? 'true' : 'false'}`)
      const series = await client.select(`SELECT * FROM "${MEASUREMENTS.quality}" WHERE ${where.join(' AND ')} ORDER BY time DESC LIMIT ${Math.trunc(limit)}`, params)
      const rows: InspectionRow[] = []
      for (const s of series) {
        const col = columns(s)
        for (const r of s.values ?? []) {
          const n = (name: string) => (col(r, name) as number | null | undefined) ?? null
          const t = (name: string) => (col(r, name) as string | null | undefined) ?? null
          rows.push({
            time: iso(col(r, 'time') as number),
            zone: t('zone')!,
            factory: t('factory')!,
            line: t('line')!,
            machine: t('machine')!,
            characteristic: t('characteristic')!,
            value: n('value')!,
            lsl: n('lsl'),
            usl: n('usl'),
            target: n('target'),
            unit: t('unit'),
            pass: (col(r, 'pass') as boolean | null | undefined) ?? null,
            defectCode: t('defect_code'),
            lot: t('lot'),
          })
        }
      }
      return rows
    },

    async connectivity(zones, factory, startMs, endMs) {
      if (zones.length === 0) return []
      const params: BindParams = { start: iso(startMs), end: iso(endMs) }
      const zoneConds = zones.map((z, i) => {
        params[`z${i}`] = z
        return `"zone" = $z${i}`
      })
      const where = [`(${zoneConds.join(' OR ')})`, 'time >= $start', 'time < $end']
      if (factory !== undefined) {
        where.push('"factory" = $factory')
        params.factory = factory
      }
      const aggregates = LINK_METRICS.flatMap((m) => [`percentile("${m}", 5) AS "${m}_p5"`, `percentile("${m}", 50) AS "${m}_p50"`, `percentile("${m}", 95) AS "${m}_p95"`])
      const [counts, pct] = await client.selectMany(
        [
          `SELECT count("seq") AS "reports" FROM "${MEASUREMENTS.connectivity}" WHERE ${where.join(' AND ')} GROUP BY "zone", "factory", "gateway", "access"`,
          `SELECT ${aggregates.join(', ')} FROM "${MEASUREMENTS.connectivity}" WHERE ${where.join(' AND ')} GROUP BY "zone", "factory", "gateway", "access"`,
        ],
        params,
      )
      const pctBy = new Map(pct!.map((s) => [JSON.stringify(s.tags), s]))
      return counts!.map((s): LinkSummary => {
        const tags = s.tags ?? {}
        const row = s.values?.[0] ?? []
        const p = pctBy.get(JSON.stringify(s.tags))
        const prow = p?.values?.[0] ?? []
        const pcol = p ? columns(p) : () => null
        const metrics: Record<string, { p5: number | null; p50: number | null; p95: number | null }> = {}
        for (const m of LINK_METRICS) {
          metrics[m] = { p5: (pcol(prow, `${m}_p5`) as number | null) ?? null, p50: (pcol(prow, `${m}_p50`) as number | null) ?? null, p95: (pcol(prow, `${m}_p95`) as number | null) ?? null }
        }
        return { zone: tags.zone!, factory: tags.factory!, gateway: tags.gateway!, access: tags.access!, reports: (row[1] as number) ?? 0, metrics }
      })
    },

    async productionPoints(startMs, endMs) {
      const series = await client.select(`SELECT "good", "reject" FROM "${MEASUREMENTS.production}" WHERE time >= $start AND time < $end ${MACHINE_GROUP} ORDER BY time ASC LIMIT ${MAX_ROWS}`, { start: iso(startMs), end: iso(endMs) })
      const out = new Map<MachineKey, { tsMs: number; good: number | null; reject: number | null }[]>()
      for (const s of series) out.set(keyOf(s.tags), (s.values ?? []).map((r) => ({ tsMs: r[0] as number, good: (r[1] as number | null) ?? null, reject: (r[2] as number | null) ?? null })))
      return out
    },

    async newestProduction(sinceMs) {
      // Every production line this service writes carries `seq`, so its last value is the newest point.
      const series = await client.select(`SELECT last("seq") FROM "${MEASUREMENTS.production}" WHERE time >= $since ${MACHINE_GROUP}`, { since: iso(sinceMs) })
      const out = new Map<MachineKey, number>()
      for (const s of series) {
        const t = s.values?.[0]?.[0]
        if (typeof t === 'number') out.set(keyOf(s.tags), t)
      }
      return out
    },

    async latestPerMachine(lookbackMs) {
      const params: BindParams = { since: iso(Date.now() - lookbackMs) }
      const kinds = [MEASUREMENTS.telemetry, MEASUREMENTS.state, MEASUREMENTS.production, MEASUREMENTS.quality]
      const [states, seen] = await client.selectMany(
        [
          `SELECT "state", "reason", "alarms", "since_ms" FROM "${MEASUREMENTS.state}" WHERE time > $since ${MACHINE_GROUP} ORDER BY time DESC LIMIT 1`,
          `SELECT last("seq") FROM ${kinds.map((k) => `"${k}"`).join(', ')} WHERE time > $since ${MACHINE_GROUP}`,
        ],
        params,
      )
      const out = new Map<MachineKey, { lastSeenMs: number | undefined; state: StatePoint | undefined }>()
      for (const s of seen!) {
        const key = keyOf(s.tags)
        const t = s.values?.[0]?.[0] as number | undefined
        const prev = out.get(key)
        if (t !== undefined && (prev?.lastSeenMs === undefined || t > prev.lastSeenMs)) out.set(key, { lastSeenMs: t, state: prev?.state })
      }
      for (const s of states!) {
        const row = s.values?.[0]
        if (!row) continue
        const key = keyOf(s.tags)
        out.set(key, { lastSeenMs: out.get(key)?.lastSeenMs, state: statePoint(columns(s), row) })
      }
      return out
    },
  }
}
