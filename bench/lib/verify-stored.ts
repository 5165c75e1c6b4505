import type { Kind } from '../../src/domain/topic.js'
import type { LoadGenerator } from './load-generator.js'
import { pointsPerMessage, STORED_AS } from './payloads.js'

type Query = (q: string) => Promise<{ tags?: Record<string, string>; values?: unknown[][] }[]>

/** Rows per verification query: factories are grouped so no answer is huge. */
const ROWS_PER_QUERY = 200_000

/**
 * Compares what the gateways saw acknowledged with what InfluxDB holds:
 * `lost` = acknowledged messages missing; `duplicates` = points beyond one per
 * (series, timestamp), which must be 0 since re-sent points overwrite themselves.
 * `stored` counts distinct messages found (acknowledged or not).
 */
export async function verifyStored(
  gen: LoadGenerator,
  query: Query,
  samplesPerMessage: number,
): Promise<{ acked: number; stored: number; lost: number; pointsStored: number; duplicates: number }> {
  // Series the gateways published to, by kind and factory (expected rows per factory).
  const byKind = new Map<Kind, Map<string, number>>()
  for (const [key, sent] of gen.sentBySeries()) {
    const colon = key.indexOf(':')
    const kind = (colon < 0 ? 'telemetry' : key.slice(0, colon)) as Kind
    const path = colon < 0 ? key : key.slice(colon + 1)
    const factory = path.split('/')[1]!
    let f = byKind.get(kind)
    if (!f) byKind.set(kind, (f = new Map()))
    f.set(factory, (f.get(factory) ?? 0) + sent)
  }
  let acked = 0
  let lost = 0
  let stored = 0
  let pointsStored = 0
  let expectedPoints = 0
  for (const [kind, factories] of byKind) {
    const spec = STORED_AS[kind]
    const storedByKey = new Map<string, Set<number>>()
    for (const group of groupFactories(factories)) {
      const cond = group.map((f) => `"factory" = '${f}'`).join(' OR ')
      const where = [`time >= ${gen.base}ms`, `(${cond})`, spec.where].filter(Boolean).join(' AND ')
      const series = await query(`SELECT "${spec.field}" FROM "${spec.measurement}" WHERE ${where} GROUP BY ${spec.groupBy.map((t) => `"${t}"`).join(', ')}`)
      for (const s of series) {
        const t = s.tags ?? {}
        const path = kind === 'connectivity' ? `${t.zone}/${t.factory}/_gateway/${t.gateway}` : `${t.zone}/${t.factory}/${t.line}/${t.machine}`
        const set = new Set<number>()
        for (const row of s.values ?? []) set.add((row[0] as number) - gen.base)
        storedByKey.set(kind === 'telemetry' ? path : `${kind}:${path}`, set)
      }
    }
    let storedHere = 0
    for (const [key, indexes] of gen.ackedByMachine()) {
      const colon = key.indexOf(':')
      if ((colon < 0 ? 'telemetry' : key.slice(0, colon)) !== kind) continue
      const found = storedByKey.get(key)
      for (const i of indexes) {
        acked++
        if (!found?.has(i)) lost++
      }
    }
    for (const s of storedByKey.values()) storedHere += s.size
    stored += storedHere
    expectedPoints += storedHere * pointsPerMessage(kind, samplesPerMessage)
    const countRows = await query(`SELECT count("${spec.field}") FROM "${spec.measurement}" WHERE time >= ${gen.base}ms`)
    pointsStored += (countRows[0]?.values?.[0]?.[1] as number | undefined) ?? 0
  }
  return { acked, stored, lost, pointsStored, duplicates: pointsStored - expectedPoints }
}

function groupFactories(rowsByFactory: ReadonlyMap<string, number>): string[][] {
  const groups: string[][] = []
  let current: string[] = []
  let rows = 0
  for (const [factory, n] of [...rowsByFactory].sort(([a], [b]) => a.localeCompare(b))) {
    if (current.length > 0 && (rows + n > ROWS_PER_QUERY || current.length >= 200)) {
      groups.push(current)
      current = []
      rows = 0
    }
    current.push(factory)
    rows += n
  }
  if (current.length > 0) groups.push(current)
  return groups
}
