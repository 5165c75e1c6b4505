import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { pino } from 'pino'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { LiveStateTable } from '../../src/domain/live-state.js'
import type { MachineTopic } from '../../src/domain/topic.js'
import { createMetrics } from '../../src/metrics/metrics.js'
import { CounterTracker } from '../../src/pipeline/counter-tracker.js'
import { MaterialTracker } from '../../src/pipeline/material-tracker.js'
import type { IngestOutcome } from '../../src/pipeline/pipeline.js'
import { toLines } from '../../src/pipeline/to-lines.js'
import { createValidator } from '../../src/pipeline/validate.js'
import { Registry } from '../../src/registry/registry.js'
import { BirthStore } from '../../src/sparkplug/birth-store.js'
import { createSparkplugHost, type SparkplugHost } from '../../src/sparkplug/host.js'
import { encodeSparkplugPayload, type SpMetricInput } from '../../src/sparkplug/payload.js'
import { encode, types } from '../helpers/gateway.js'
import { DT, sparkplugRegistry } from '../helpers/sparkplug.js'

const T0 = 1_760_000_000_000
const DEV = 'spBv1.0/plant-a/%/edge-1/press-1'
const limits = { maxFutureSkewMs: 60_000, maxAgeMs: 86_400_000, maxBatch: 8, maxStringLength: 64 }
const validate = createValidator(limits, () => T0)
const M1: MachineTopic = { scope: 'machine', zone: 'za', factory: 'fa', line: 'l1', machine: 'm1', kind: 'material' }

const COLS = ['movement', 'material', 'lot', 'quantity', 'unit', 'work_order', 'ts_ms']
const TYPES: number[] = [DT.String, DT.String, DT.String, DT.Double, DT.String, DT.String, DT.DateTime]
type Cell = string | number | bigint | undefined

function cell(type: number, v: Cell): Record<string, unknown> {
  if (v === undefined) return {}
  if (type === DT.String) return { stringValue: v }
  if (type === DT.Double) return { doubleValue: v }
  if (type === DT.Float) return { floatValue: v }
  if (type === DT.Int32) return { intValue: v }
  return { longValue: typeof v === 'bigint' ? v : BigInt(v) }
}
/** A DataSet as Tahu writes one: `types[i]` says the member each cell of column i is in. */
function dataset(rows: Cell[][], columns = COLS, types_ = TYPES, cellTypes = types_): Record<string, unknown> {
  return { numOfColumns: columns.length, columns, types: types_, rows: rows.map((r) => ({ elements: r.map((v, i) => cell(cellTypes[i]!, v)) })) }
}
const movements = (ds: Record<string, unknown>, ts = T0 - 1000): SpMetricInput => ({ name: 'Material/Movements', alias: 9, datatype: DT.DataSet, datasetValue: ds, timestamp: ts })

let dir: string
let registry: Registry
let host: SparkplugHost
let seq: number

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'sp-mat-'))
  registry = Registry.fromJson(await sparkplugRegistry())
  host = createSparkplugHost({
    registry: { current: () => registry },
    births: BirthStore.open(join(dir, 'births.json')),
    live: new LiveStateTable(),
    keeper: { keep: async () => undefined },
    validate,
    limits: { ...limits, maxUncompressedBytes: 1024 * 1024 },
    sendRebirth: () => undefined,
    metrics: createMetrics(),
    log: pino({ level: 'silent' }),
    reorderWindowMs: 60_000,
    reorderMaxMessages: 8,
    rebirthMinIntervalMs: 5_000,
    now: () => T0,
  })
  seq = 0
})
afterEach(async () => {
  host.close()
  await rm(dir, { recursive: true, force: true })
})

const send = (type: string, metrics: SpMetricInput[]): IngestOutcome[] =>
  host.handle({ topic: DEV.replace('%', type), gatewayId: 'gw-a', payload: encodeSparkplugPayload({ timestamp: T0, seq: seq++, metrics }), receivedMs: T0 })
/** NBIRTH, then a DBIRTH with an empty movements DataSet (a device that has moved nothing yet) and a telemetry metric. */
function born(extra: SpMetricInput[] = []): IngestOutcome[] {
  host.handle({ topic: 'spBv1.0/plant-a/NBIRTH/edge-1', gatewayId: 'gw-a', payload: encodeSparkplugPayload({ timestamp: T0, seq: seq++, metrics: [{ name: 'bdSeq', datatype: DT.UInt64, longValue: 0 }] }), receivedMs: T0 })
  return send('DBIRTH', [movements(dataset([])), { name: 'Temp', alias: 1, datatype: DT.Double, doubleValue: 20 }, ...extra])
}
const rejections = (outs: IngestOutcome[]) => outs.flatMap((o) => (o.ok ? [] : [{ reason: o.reason, message: o.message }]))
const material = (outs: IngestOutcome[]) => outs.flatMap((o) => (o.ok && o.accepted.topic.kind === 'material' ? [o.accepted] : []))

/** What an iiot/v1 gateway's message with these movements becomes: validated, mapped with its own load memory. */
function iiotLines(seqNo: number, moves: Record<string, unknown>[]): { message: unknown; lines: string[] } {
  const r = validate('material', types.material.decode(encode('material', { seq: seqNo, sentTsMs: T0, movements: moves })), T0)
  if (!r.ok) throw new Error(r.failure.message)
  return { message: r.message, lines: toLines(M1, r.message, { counters: new CounterTracker(), live: new LiveStateTable(), materials: new MaterialTracker() }) }
}

describe('Sparkplug material movements (a DataSet metric of a device)', () => {
  it('an empty DataSet in the DBIRTH is nothing; a DDATA DataSet becomes the records, lines and warnings an iiot/v1 message would', () => {
    const birth = born()
    expect(rejections(birth)).toEqual([])
    expect(material(birth)).toEqual([])
    const rows: Cell[][] = [
      ['LOADED', 'steel-bar', 'S-1', 10, 'kg', '', T0 - 40],
      ['consumed', 'steel-bar', 'S-1', 2.5, 'kg', 'WO-1', T0 - 30],
      ['MOVEMENT_CONSUMED', 'steel-bar', 'S-9', 1, 'kg', 'WO-1', T0 - 20], // never loaded here: the warning
      ['Produced', 'shaft', 'P-1', 10, 'pcs', 'WO-1', T0 - 10],
    ]
    const out = send('DDATA', [movements(dataset(rows))])
    expect(rejections(out)).toEqual([])
    const [accepted, ...more] = material(out)
    expect(more).toEqual([])
    const ref = iiotLines(2, [
      { movement: 2, material: 'steel-bar', lot: 'S-1', quantity: 10, unit: 'kg', workOrder: '', tsMs: T0 - 40 },
      { movement: 3, material: 'steel-bar', lot: 'S-1', quantity: 2.5, unit: 'kg', workOrder: 'WO-1', tsMs: T0 - 30 },
      { movement: 3, material: 'steel-bar', lot: 'S-9', quantity: 1, unit: 'kg', workOrder: 'WO-1', tsMs: T0 - 20 },
      { movement: 4, material: 'shaft', lot: 'P-1', quantity: 10, unit: 'pcs', workOrder: 'WO-1', tsMs: T0 - 10 },
    ])
    expect(accepted!.topic).toEqual(M1)
    expect(accepted!.gatewayId).toBe('gw-a')
    expect({ ...accepted!.message, sentTsMs: T0 }).toEqual(ref.message)
    expect(accepted!.lines).toEqual(ref.lines)
    expect(accepted!.lines.filter((l) => l.includes('warning="consumed_before_loaded"'))).toHaveLength(1)
    expect(accepted!.lines[2]).toContain('lot="S-9"')
  })

  it('integer columns (Tahu: Int32 movement, Int64 quantity, UInt32 in long_value) and no ts_ms column: rows take the metric time', () => {
    born()
    const cols = ['Movement', 'Material', 'Lot', 'Quantity', 'Unit', 'WorkOrder']
    const ds = dataset([[1, 'bolt', 'B-7', 500n, 'pcs', '']], cols, [DT.Int32, DT.String, DT.String, DT.Int64, DT.String, DT.String])
    const out = send('DDATA', [movements(ds, T0 - 500)])
    expect(rejections(out)).toEqual([])
    expect(material(out)[0]!.lines).toEqual([`material,factory=fa,line=l1,machine=m1,movement=received,zone=za material="bolt",lot="B-7",quantity=500,unit="pcs",seq=2i ${T0 - 500}`])
    const u32 = dataset([[2, 'bolt', 'B-7', 5, 'pcs', '']], cols, [7 /* UInt32 */, DT.String, DT.String, DT.Double, DT.String, DT.String], [DT.Int64, DT.String, DT.String, DT.Double, DT.String, DT.String])
    expect(material(send('DDATA', [movements(u32, T0 - 400)]))[0]!.lines[0]).toContain('movement=loaded')
  })

  it('two rows of one kind without ts_ms would be one point: rejected as iiot/v1 does (invalid_payload)', () => {
    born()
    const ds = dataset([['CONSUMED', 'bolt', 'B-1', 1, 'pcs', 'WO-1'], ['CONSUMED', 'bolt', 'B-2', 1, 'pcs', 'WO-1']], COLS.slice(0, 6), TYPES.slice(0, 6))
    expect(rejections(send('DDATA', [movements(ds)]))).toEqual([{ reason: 'invalid_payload', message: expect.stringContaining('give each its own millisecond') }])
  })

  const good: Cell[] = ['CONSUMED', 'steel-bar', 'S-1', 2.5, 'kg', 'WO-1', T0 - 10]
  const row = (i: number, v: Cell): Cell[] => good.map((g, j) => (j === i ? v : g))
  const proto = { movement: 3, material: 'steel-bar', lot: 'S-1', quantity: 2.5, unit: 'kg', workOrder: 'WO-1', tsMs: T0 - 10 }
  it.each([
    ['unknown_unit', row(4, 'furlong'), { unit: 'furlong' }],
    ['negative_quantity', row(3, -1), { quantity: -1 }],
    ['invalid_enum', row(0, 'MOVED'), undefined],
    ['missing_value', row(5, ''), { workOrder: '' }],
    ['missing_value', row(5, undefined), { workOrder: '' }],
    ['invalid_name', row(2, 'lot with spaces'), { lot: 'lot with spaces' }],
    ['invalid_name', row(1, ''), { material: '' }],
    ['non_finite_number', row(3, Number.NaN), { quantity: Number.NaN }],
    ['stale_timestamp', row(6, T0 - 2 * 86_400_000), { tsMs: T0 - 2 * 86_400_000 }],
  ])('a row with %s is rejected with the reason iiot/v1 gives (%#); the message\'s other metrics are stored', (reason, bad, protoOver) => {
    born()
    if (protoOver) {
      const r = validate('material', types.material.decode(encode('material', { seq: 1, sentTsMs: T0, movements: [{ ...proto, ...protoOver }] })), T0)
      expect(r.ok ? undefined : r.failure.reason).toBe(reason)
    }
    const out = send('DDATA', [movements(dataset([good, bad])), { name: 'Temp', alias: 1, datatype: DT.Double, doubleValue: 21 }])
    const rej = rejections(out)
    expect(rej).toEqual([{ reason, message: expect.stringContaining('DataSet "Material/Movements"') }])
    expect(rej[0]!.message).toMatch(/row 1/)
    expect(material(out)).toEqual([])
    expect(out.some((o) => o.ok && o.accepted.lines.some((l) => l.startsWith('telemetry,') && l.includes('value=21')))).toBe(true)
  })

  it.each([
    ['types and columns of different lengths', { numOfColumns: 7, columns: COLS, types: TYPES.slice(0, 6), rows: [] }, '7 columns but 6 types'],
    ['num_of_columns that is not the columns', { ...dataset([good]), numOfColumns: 9 }, 'num_of_columns is 9'],
    ['a row of another width', { ...dataset([good]), rows: [{ elements: [{ stringValue: 'CONSUMED' }] }] }, 'row 0 has 1 values for 7 columns'],
    ['a required column missing', dataset([good.slice(0, 6)], ['movement', 'material', 'batch', 'quantity', 'unit', 'work_order'], TYPES.slice(0, 6)), 'no column "lot"'],
    ['a column twice', dataset([[...good, 'WO-2']], [...COLS, 'WorkOrder'], [...TYPES, DT.String]), 'column "work_order" appears twice'],
    ['quantity as a String column', dataset([row(3, '2.5')], COLS, TYPES.map((t, i) => (i === 3 ? DT.String : t))), 'column "quantity" has datatype 12'],
    ['a cell in the wrong member', dataset([good], COLS, TYPES, TYPES.map((t, i) => (i === 3 ? DT.String : t))), 'row 0, column "quantity"'],
  ])('a malformed DataSet (%s) is bad_dataset, with what is wrong', (_what, ds, text) => {
    born()
    const rej = rejections(send('DDATA', [movements(ds as Record<string, unknown>)]))
    expect(rej).toEqual([{ reason: 'bad_dataset', message: expect.stringContaining(text) }])
  })

  it('another DataSet stays unsupported_datatype; the mapping may name the movements metric; a non-DataSet under that name is bad_dataset', async () => {
    const other = { name: 'Recipe/Table', alias: 5, datatype: DT.DataSet, datasetValue: dataset([good]) }
    expect(rejections(born([other])).map((r) => r.reason)).toEqual(['unsupported_datatype'])

    const reg = (await sparkplugRegistry()) as { sparkplug: { groups: { mapping: Record<string, unknown> }[] } }
    reg.sparkplug.groups[0]!.mapping.materialMovements = 'Recipe/Table'
    registry = Registry.fromJson(reg)
    const renamed = send('DDATA', [{ alias: 5, datatype: DT.DataSet, datasetValue: dataset([good]) }])
    expect(rejections(renamed)).toEqual([])
    expect(material(renamed)[0]!.lines[0]).toContain('lot="S-1"')

    expect(rejections(send('DBIRTH', [{ name: 'Recipe/Table', datatype: DT.String, stringValue: 'x' }]))).toEqual([{ reason: 'bad_dataset', message: expect.stringContaining('must be a DataSet') }])
  })

  it('an edge node the registry gives no machine: an empty DataSet in its NBIRTH is nothing, rows are invalid_payload (never dropped silently)', async () => {
    const reg = (await sparkplugRegistry()) as { sparkplug: { groups: { edgeNodes: Record<string, unknown>[] }[] } }
    delete reg.sparkplug.groups[0]!.edgeNodes[0]!.line
    delete reg.sparkplug.groups[0]!.edgeNodes[0]!.machine
    registry = Registry.fromJson(reg)
    const node = (type: string, metrics: SpMetricInput[]) => host.handle({ topic: `spBv1.0/plant-a/${type}/edge-1`, gatewayId: 'gw-a', payload: encodeSparkplugPayload({ timestamp: T0, seq: seq++, metrics }), receivedMs: T0 })
    expect(node('NBIRTH', [{ name: 'bdSeq', datatype: DT.UInt64, longValue: 0 }, movements(dataset([]))])).toEqual([])
    expect(rejections(node('NDATA', [movements(dataset([good]))]))).toEqual([{ reason: 'invalid_payload', message: expect.stringContaining('no machine') }])
  })
})
