import { MEASUREMENTS, TAG_KEYS } from '../../domain/measurements.js'
import type { RecordRow, RecordsReader } from '../ports.js'
import type { BindParams, InfluxQLClient } from './influxql-client.js'
import { scopeConditions } from './scope-conditions.js'

export function createInfluxRecordsReader(client: InfluxQLClient): RecordsReader {
  return {
    async records(query) {
      const params: BindParams = { start: new Date(query.startMs).toISOString(), end: new Date(query.endMs).toISOString() }
      // Connectivity points have no line or machine tags: those parts of a scope do not apply.
      const scope = query.kind === 'connectivity' ? { zone: query.scope.zone, factory: query.scope.factory } : query.scope
      const where = [...scopeConditions(scope, params), 'time >= $start', 'time < $end']
      const q = `SELECT * FROM "${MEASUREMENTS[query.kind]}" WHERE ${where.join(' AND ')} ORDER BY time ${query.order === 'asc' ? 'ASC' : 'DESC'} LIMIT ${Math.trunc(query.limit)}`
      const series = await client.select(q, params)
      const tagKeys = new Set(TAG_KEYS[query.kind])
      const out: RecordRow[] = []
      for (const s of series) {
        for (const row of s.values ?? []) {
          const tags: Record<string, string> = {}
          const fields: Record<string, number | boolean | string> = {}
          let time = ''
          s.columns.forEach((col, i) => {
            const v = row[i]
            if (col === 'time') time = new Date(v as number).toISOString()
            else if (v === null || v === undefined) return
            else if (tagKeys.has(col)) tags[col] = String(v)
            else fields[col] = v as number | boolean | string
          })
          out.push({ time, tags, fields })
        }
      }
      return out
    },
  }
}
