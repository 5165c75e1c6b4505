import { MEASUREMENTS } from '../../domain/measurements.js'
import type { LatestValue, SeriesPoint, SeriesQuery, TelemetryReader } from '../ports.js'
import type { BindParams, InfluxQLClient } from './influxql-client.js'
import { scopeConditions } from './scope-conditions.js'


export function createInfluxTelemetryReader(client: InfluxQLClient): TelemetryReader {
  return {
    async latest(scope, signal, lookbackMs, limit) {
      const params: BindParams = { since: new Date(Date.now() - lookbackMs).toISOString() }
      const where = ['time > $since', ...scopeConditions(scope, params)]
      if (signal !== undefined) {
        where.push('"signal" = $signal')
        params.signal = signal
      }
      const q = `SELECT "value", "value_bool", "value_str", "unit", "quality" FROM "${MEASUREMENTS.telemetry}" WHERE ${where.join(' AND ')} GROUP BY "zone", "factory", "line", "machine", "signal" ORDER BY time DESC LIMIT 1`
      const series = await client.select(q, params)
      const out: LatestValue[] = []
      for (const s of series.slice(0, limit)) {
        const row = s.values?.[0]
        if (!row) continue
        const col = (name: string) => row[s.columns.indexOf(name)]
        const value = (col('value') ?? col('value_bool') ?? col('value_str') ?? null) as LatestValue['value']
        const tags = s.tags ?? {}
        out.push({
          zone: tags.zone ?? '',
          factory: tags.factory ?? '',
          line: tags.line ?? '',
          machine: tags.machine ?? '',
          signal: tags.signal ?? '',
          time: new Date(col('time') as number).toISOString(),
          value,
          unit: (col('unit') as string | null) ?? null,
          quality: (col('quality') as string | null) ?? null,
        })
      }
      out.sort((a, b) => a.machine.localeCompare(b.machine) || a.signal.localeCompare(b.signal))
      return out
    },

    async series(query: SeriesQuery): Promise<SeriesPoint[]> {
      const params: BindParams = { signal: query.signal, start: new Date(query.startMs).toISOString(), end: new Date(query.endMs).toISOString() }
      const where = [...scopeConditions(query, params), '"signal" = $signal', 'time >= $start', 'time < $end']
      // The aggregate comes from a whitelist and the interval is an integer we computed: neither is user text.
      const q = `SELECT ${query.aggregate}("value") AS "value" FROM "${MEASUREMENTS.telemetry}" WHERE ${where.join(' AND ')} GROUP BY time(${Math.trunc(query.intervalMs)}ms) fill(none)`
      const series = await client.select(q, params)
      const rows = series[0]?.values ?? []
      return rows.map((r) => ({ time: new Date(r[0] as number).toISOString(), value: (r[1] as number | null) ?? null }))
    },
  }
}
