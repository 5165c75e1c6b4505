import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { loadConfig } from '../../src/config/config.js'
import type { Scope } from '../../src/storage/ports.js'
import { InfluxQLClient } from '../../src/storage/influx/influxql-client.js'
import { createInfluxManufacturingReader } from '../../src/storage/influx/manufacturing-reader.js'
import { createInfluxRecordsReader } from '../../src/storage/influx/records-reader.js'
import { createInfluxTelemetryReader } from '../../src/storage/influx/telemetry-reader.js'
import { influxQuery, startTestInfluxd } from '../helpers/influxd.js'

/**
 * Every value the InfluxDB readers put into a query, driven with quotes,
 * double quotes, backslashes, regex delimiters, newlines and semicolons,
 * straight at the readers (the API's own checks would stop most of these
 * before any InfluxQL exists). Two kinds of assertion:
 * - literal: series whose tag and field values contain those characters are
 *   found by those exact values and read back unchanged. A value pasted into
 *   the query text would break its quoting (an error) or match otherwise;
 * - nothing else: hostile values that are valid InfluxQL once pasted
 *   (`x' OR "zone" =~ /.*\/ OR "zone" = 'x`) find nothing, although a plain
 *   neighbour series exists for them to leak.
 */

// The characters under test, one mix per value. InfluxDB 1.x keeps a backslash in a tag value
// literally unless it precedes a comma, equals sign or space, and no stored value may hold a newline.
const HOSTILE = {
  zone: `z'1 "a" b\\c /d/ ;e`,
  factory: `f"1' OR '1'='1`,
  line: `l\\1;DROP`,
  machine: `m/.*/`,
  signal: `s'; SELECT * FROM "telemetry"`,
  characteristic: `c\\d'"/;x`,
  gateway: `gw'"\\/;x`,
  reason: `r'ea"son\\ /x/; --`,
  lot: `lot'42" \\ /x/;`,
} as const
const PLAIN = { zone: 'za', factory: 'fa', line: 'l1', machine: 'm1', signal: 'temp', characteristic: 'bore', gateway: 'gw-a', reason: 'jam', lot: 'L1' } as const

/** Values that match nothing with bind parameters, and everything (or an error) if pasted. */
const injections = (tag: string): string[] => [
  `x' OR "${tag}" =~ /.*/ OR "${tag}" = 'x`,
  `x" OR "${tag}" =~ /.*/ OR "${tag}" = "x`,
  `x\\' OR 1=1 OR '1'='1`,
  `/.*/`,
  `.*`,
  `x' OR 1=1`,
  `${PLAIN[tag as keyof typeof PLAIN] ?? 'x'}\n; DROP DATABASE "inj"`,
  `${PLAIN[tag as keyof typeof PLAIN] ?? 'x'}'; SELECT * FROM "telemetry"`,
  `$since`,
]

// The escaping InfluxDB 1.x line protocol wants for tag values (commas, equals signs, spaces) and string fields.
const tag = (v: string) => v.replace(/[,= ]/g, (c) => '\\' + c)
const str = (v: string) => `"${v.replace(/["\\]/g, (c) => '\\' + c)}"`

let influxd: Awaited<ReturnType<typeof startTestInfluxd>>
let client: InfluxQLClient
const tsMs = Date.now() - 10 * 60_000
const window = { startMs: tsMs - 3_600_000, endMs: tsMs + 60_000 }

function points(v: typeof HOSTILE | typeof PLAIN): string[] {
  const machine = `zone=${tag(v.zone)},factory=${tag(v.factory)},line=${tag(v.line)},machine=${tag(v.machine)}`
  return [
    `telemetry,${machine},signal=${tag(v.signal)} value=1.5,unit=${str(v.reason)},seq=1i ${tsMs}`,
    `state,${machine} state="fault",reason=${str(v.reason)},alarms="A1",since_ms=${tsMs}i,seq=1i ${tsMs}`,
    `production,${machine} good=10i,reject=2i,total=12i,seq=1i ${tsMs}`,
    `quality,${machine},characteristic=${tag(v.characteristic)} value=25.01,lsl=24.9,usl=25.1,pass=true,lot=${str(v.lot)},seq=1i ${tsMs}`,
    `connectivity,zone=${tag(v.zone)},factory=${tag(v.factory)},gateway=${tag(v.gateway)},access=5g-sa seq=1i,rtt_ms=12 ${tsMs}`,
  ]
}

beforeAll(async () => {
  influxd = await startTestInfluxd()
  client = new InfluxQLClient(loadConfig({ INFLUX_URL: influxd.url, INFLUX_DATABASE: 'inj' }).influx)
  await client.ensureDatabase()
  const res = await fetch(`${influxd.url}/write?db=inj&precision=ms`, { method: 'POST', body: [...points(HOSTILE), ...points(PLAIN)].join('\n') })
  expect(res.status, await res.text()).toBe(204)
  // The fixture itself: InfluxDB holds exactly the hostile values (checked without our readers).
  const stored = await influxQuery(influxd.url, 'inj', 'SELECT "reason" FROM "state" GROUP BY *')
  expect(stored.map((s) => s.tags).sort((a, b) => (a!.zone! < b!.zone! ? -1 : 1))).toEqual([
    { zone: HOSTILE.zone, factory: HOSTILE.factory, line: HOSTILE.line, machine: HOSTILE.machine },
    { zone: PLAIN.zone, factory: PLAIN.factory, line: PLAIN.line, machine: PLAIN.machine },
  ])
  const lots = await influxQuery(influxd.url, 'inj', 'SELECT "lot" FROM "quality"')
  expect(lots[0]!.values.map((r) => r[1]).sort()).toEqual([PLAIN.lot, HOSTILE.lot].sort())
})

afterAll(async () => {
  await influxd?.dispose()
})

const SCOPE_TAGS = ['zone', 'factory', 'line', 'machine'] as const
const scopeOf = (v: typeof HOSTILE | typeof PLAIN) => ({ zone: v.zone, factory: v.factory, line: v.line, machine: v.machine })
const keyOf = (v: typeof HOSTILE | typeof PLAIN) => `${v.zone}/${v.factory}/${v.line}/${v.machine}`
/** The plain neighbour's scope with one part replaced by a hostile value, for every part and every injection. */
function* scopesWithOneInjection(): Generator<[string, Required<Scope>]> {
  for (const part of SCOPE_TAGS) for (const value of injections(part)) yield [`${part} = ${JSON.stringify(value)}`, { ...scopeOf(PLAIN), [part]: value }]
}

describe('InfluxQL readers: hostile values are data, never query text', () => {
  it('telemetry latest and series: literal matches are exact, injections match nothing', async () => {
    const reader = createInfluxTelemetryReader(client)
    const latest = await reader.latest(scopeOf(HOSTILE), HOSTILE.signal, 3_600_000, 100)
    expect(latest).toMatchObject([{ ...scopeOf(HOSTILE), signal: HOSTILE.signal, value: 1.5, unit: HOSTILE.reason }])
    const series = await reader.series({ ...scopeOf(HOSTILE), signal: HOSTILE.signal, ...window, intervalMs: 60_000, aggregate: 'mean' })
    expect(series.map((p) => p.value)).toEqual([1.5])

    for (const [what, scope] of scopesWithOneInjection()) {
      expect(await reader.latest(scope, PLAIN.signal, 3_600_000, 100), what).toEqual([])
      expect(await reader.series({ ...scope, signal: PLAIN.signal, ...window, intervalMs: 60_000, aggregate: 'mean' }), what).toEqual([])
    }
    for (const signal of injections('signal')) {
      expect(await reader.latest(scopeOf(PLAIN), signal, 3_600_000, 100), signal).toEqual([])
      expect(await reader.series({ ...scopeOf(PLAIN), signal, ...window, intervalMs: 60_000, aggregate: 'mean' }), signal).toEqual([])
    }
    // The plain neighbour is there to be leaked: it is found by its own values.
    expect(await reader.latest(scopeOf(PLAIN), PLAIN.signal, 3_600_000, 100)).toHaveLength(1)
  })

  it('records of every kind: literal matches are exact, injections match nothing', async () => {
    const reader = createInfluxRecordsReader(client)
    const query = { ...window, limit: 100, order: 'asc' as const }
    for (const kind of ['telemetry', 'state', 'production', 'quality'] as const) {
      const rows = await reader.records({ ...query, kind, scope: scopeOf(HOSTILE) })
      expect(rows.map((r) => r.tags), kind).toEqual([expect.objectContaining(scopeOf(HOSTILE))])
      for (const [what, scope] of scopesWithOneInjection()) expect(await reader.records({ ...query, kind, scope }), `${kind}: ${what}`).toEqual([])
    }
    const state = await reader.records({ ...query, kind: 'state', scope: scopeOf(HOSTILE) })
    expect(state[0]!.fields.reason).toBe(HOSTILE.reason)
    const links = await reader.records({ ...query, kind: 'connectivity', scope: { zone: HOSTILE.zone, factory: HOSTILE.factory } })
    expect(links.map((r) => r.tags)).toEqual([{ zone: HOSTILE.zone, factory: HOSTILE.factory, gateway: HOSTILE.gateway, access: '5g-sa' }])
    for (const zone of injections('zone')) expect(await reader.records({ ...query, kind: 'connectivity', scope: { zone, factory: PLAIN.factory } }), zone).toEqual([])
  })

  it('state, production and latest-per-machine: literal matches are exact, injections match nothing', async () => {
    const reader = createInfluxManufacturingReader(client)
    const history = await reader.stateHistory(scopeOf(HOSTILE), window.startMs, window.endMs, 3_600_000)
    expect([...history.keys()]).toEqual([keyOf(HOSTILE)])
    expect(history.get(keyOf(HOSTILE))!.points).toMatchObject([{ state: 'fault', reason: HOSTILE.reason, alarms: ['A1'] }])
    const buckets = await reader.countBuckets(scopeOf(HOSTILE), window.startMs, window.endMs, 3_600_000, true)
    expect([...buckets.entries()].map(([k, b]) => [k, b.reduce((n, x) => n + x.good, 0)])).toEqual([[keyOf(HOSTILE), 10]])
    const counts = await reader.countsInWindows(scopeOf(HOSTILE), [window])
    expect([...counts.entries()]).toEqual([[keyOf(HOSTILE), [{ good: 10, reject: 2 }]]])

    for (const [what, scope] of scopesWithOneInjection()) {
      expect((await reader.stateHistory(scope, window.startMs, window.endMs, 3_600_000)).size, what).toBe(0)
      expect((await reader.countBuckets(scope, window.startMs, window.endMs, 3_600_000, false)).size, what).toBe(0)
      expect((await reader.countsInWindows(scope, [window])).size, what).toBe(0)
    }
    const latest = await reader.latestPerMachine(3_600_000)
    expect([...latest.keys()].sort()).toEqual([keyOf(HOSTILE), keyOf(PLAIN)].sort())
    expect(latest.get(keyOf(HOSTILE))!.state?.reason).toBe(HOSTILE.reason)
  })

  it('inspections by characteristic and lot: literal matches are exact, injections match nothing', async () => {
    const reader = createInfluxManufacturingReader(client)
    const rows = await reader.inspections(scopeOf(HOSTILE), { characteristic: HOSTILE.characteristic, lot: HOSTILE.lot, pass: true }, window.startMs, window.endMs, 100)
    expect(rows).toMatchObject([{ ...scopeOf(HOSTILE), characteristic: HOSTILE.characteristic, lot: HOSTILE.lot, value: 25.01 }])

    for (const [what, scope] of scopesWithOneInjection()) expect(await reader.inspections(scope, {}, window.startMs, window.endMs, 100), what).toEqual([])
    for (const characteristic of injections('characteristic')) {
      expect(await reader.inspections(scopeOf(PLAIN), { characteristic }, window.startMs, window.endMs, 100), characteristic).toEqual([])
    }
    for (const lot of injections('lot')) expect(await reader.inspections(scopeOf(PLAIN), { lot }, window.startMs, window.endMs, 100), lot).toEqual([])
    expect(await reader.inspections(scopeOf(PLAIN), { characteristic: PLAIN.characteristic, lot: PLAIN.lot }, window.startMs, window.endMs, 100)).toHaveLength(1)
  })

  it('connectivity by zones and factory: the gateway reads back exactly, injections match nothing', async () => {
    const reader = createInfluxManufacturingReader(client)
    const links = await reader.connectivity([HOSTILE.zone], HOSTILE.factory, window.startMs, window.endMs)
    expect(links).toMatchObject([{ zone: HOSTILE.zone, factory: HOSTILE.factory, gateway: HOSTILE.gateway, access: '5g-sa', reports: 1 }])
    for (const zone of injections('zone')) expect(await reader.connectivity([zone], undefined, window.startMs, window.endMs), zone).toEqual([])
    for (const factory of injections('factory')) expect(await reader.connectivity([PLAIN.zone], factory, window.startMs, window.endMs), factory).toEqual([])
    expect(await reader.connectivity([PLAIN.zone], PLAIN.factory, window.startMs, window.endMs)).toHaveLength(1)
  })
})
