import { MOVEMENTS, type DecodedMessage } from '../domain/records.js'
import type { Validate } from '../pipeline/validate.js'
import type { SpDataSet } from './payload.js'
import { DataType, metricValue, type SpValue } from './values.js'

/** The metric a device reports its material movements in, unless the group's mapping names another (docs/sparkplug.md). */
export const MATERIAL_METRIC = 'Material/Movements'

type MaterialMessage = Extract<DecodedMessage, { kind: 'material' }>

/** A DataSet of movements read: the validated message (undefined for a DataSet without rows), or why not. */
export type MovementsRead = { ok: true; message: MaterialMessage | undefined } | { ok: false; reason: string; message: string }

type Field = 'movement' | 'material' | 'lot' | 'quantity' | 'unit' | 'workOrder' | 'tsMs'

const INTS: readonly number[] = [DataType.Int8, DataType.Int16, DataType.Int32, DataType.Int64, DataType.UInt8, DataType.UInt16, DataType.UInt32, DataType.UInt64]
const TEXT: readonly number[] = [DataType.String, DataType.Text, DataType.UUID]

/** The columns, by their name with case, `_` and spaces ignored (`work_order`, `WorkOrder`); what datatypes each takes. */
const COLUMNS: Readonly<Record<string, { field: Field; name: string; required: boolean; types: readonly number[]; what: string }>> = {
  movement: { field: 'movement', name: 'movement', required: true, types: [...TEXT, ...INTS], what: 'a String (RECEIVED, LOADED, CONSUMED, PRODUCED, SCRAPPED, UNLOADED) or an integer (1-6)' },
  material: { field: 'material', name: 'material', required: true, types: TEXT, what: 'a String' },
  lot: { field: 'lot', name: 'lot', required: true, types: TEXT, what: 'a String' },
  quantity: { field: 'quantity', name: 'quantity', required: true, types: [...INTS, DataType.Float, DataType.Double], what: 'a number' },
  unit: { field: 'unit', name: 'unit', required: true, types: TEXT, what: 'a String' },
  workorder: { field: 'workOrder', name: 'work_order', required: false, types: TEXT, what: 'a String' },
  tsms: { field: 'tsMs', name: 'ts_ms', required: false, types: [DataType.DateTime, ...INTS], what: 'a DateTime or an integer (Unix milliseconds)' },
}
const NAME_OF: Readonly<Record<string, string>> = Object.fromEntries(Object.values(COLUMNS).map((c) => [c.field, c.name]))

const normal = (column: string): string => column.toLowerCase().replace(/[_\s]/g, '')

/** A movement named as in proto/iiot/v1/material.proto, any case, with or without `MOVEMENT_`: its enum number; 0 if unknown. */
function movementNumber(name: string): number {
  const n = name.trim().toLowerCase().replace(/^movement_/, '')
  return (MOVEMENTS as readonly string[]).indexOf(n) + 1
}

/**
 * A DataSet of material movements (docs/sparkplug.md, "Material movements") as the `iiot.v1.Material`
 * message an iiot/v1 gateway would have sent, checked by the same validator (validate.ts), so it is
 * accepted or rejected for the same reasons. A DataSet whose shape is wrong (columns and types of
 * different lengths, a row of another width, a required column missing, a column or cell of the
 * wrong datatype) is `bad_dataset`. A row without `ts_ms` (or with 0) takes `tsMs`, the metric's
 * time. A DataSet without rows is nothing (a birth of a device that has moved nothing yet).
 */
export function movementsOf(metric: string, ds: SpDataSet, at: { seq: number; tsMs: number; nowMs: number }, validate: Validate): MovementsRead {
  const bad = (message: string): MovementsRead => ({ ok: false, reason: 'bad_dataset', message: `DataSet "${metric}": ${message}` })
  const columns = ds.columns ?? []
  const types = ds.types ?? []
  const rows = ds.rows ?? []
  if (types.length !== columns.length) return bad(`${columns.length} columns but ${types.length} types`)
  if (ds.numOfColumns !== undefined && ds.numOfColumns !== BigInt(columns.length)) return bad(`num_of_columns is ${ds.numOfColumns} but ${columns.length} columns are named`)
  const index: Partial<Record<Field, number>> = {}
  for (let i = 0; i < columns.length; i++) {
    const c = COLUMNS[normal(columns[i]!)]
    if (!c) continue // other columns (an operator, a comment) are the gateway's own: not stored
    if (index[c.field] !== undefined) return bad(`column "${c.name}" appears twice`)
    if (!c.types.includes(types[i]!)) return bad(`column "${columns[i]}" has datatype ${types[i]}; it must be ${c.what}`)
    index[c.field] = i
  }
  const missing = Object.values(COLUMNS).filter((c) => c.required && index[c.field] === undefined).map((c) => c.name)
  if (missing.length > 0) return bad(`no column ${missing.map((m) => `"${m}"`).join(', ')} (columns: movement, material, lot, quantity, unit, work_order, ts_ms)`)
  if (rows.length === 0) return { ok: true, message: undefined }

  const movements: Record<Field, unknown>[] = []
  for (let r = 0; r < rows.length; r++) {
    const cells = rows[r]!.elements ?? []
    if (cells.length !== columns.length) return bad(`row ${r} has ${cells.length} values for ${columns.length} columns`)
    const row = {} as Record<Field, unknown>
    for (const field of Object.keys(NAME_OF) as Field[]) {
      const i = index[field]
      const cell = i === undefined ? undefined : cells[i]!
      let v: SpValue | null = null
      if (cell?.value !== undefined) {
        const read = metricValue(types[i!]!, { ...cell, name: `${metric}" row ${r} column "${columns[i!]}` })
        if (!read.ok) return read.reason === 'datatype_mismatch' ? bad(`row ${r}, column "${columns[i!]}": the value is not in the member its datatype ${types[i!]} needs`) : { ok: false, reason: read.reason, message: `DataSet ${read.message.replace(/^metric /, '')}` }
        v = read.value
      }
      row[field] = fieldValue(field, v)
    }
    if (typeof row.movement === 'string') {
      const n = movementNumber(row.movement)
      if (n === 0) return { ok: false, reason: 'invalid_enum', message: `DataSet "${metric}": row ${r}: unknown or unspecified movement "${row.movement.slice(0, 32)}" (one of RECEIVED, LOADED, CONSUMED, PRODUCED, SCRAPPED, UNLOADED)` }
      row.movement = n
    }
    if (row.tsMs === 0) row.tsMs = at.tsMs
    movements.push(row)
  }
  const result = validate('material', { seq: at.seq, sentTsMs: at.tsMs, movements }, at.nowMs)
  if (!result.ok) return { ok: false, reason: result.failure.reason, message: `DataSet "${metric}": ${rowMessage(result.failure.message)}` }
  return { ok: true, message: result.message as MaterialMessage }
}

/** A cell as the decoded protobuf field would hold it: '' and 0 for an empty one, numbers for 64-bit integers. */
function fieldValue(field: Field, v: SpValue | null): unknown {
  if (v === null) return field === 'movement' || field === 'quantity' || field === 'tsMs' ? 0 : ''
  if (typeof v === 'bigint') return Number(v)
  return v
}

/** The validator's `movements.3.workOrder: …` and `item 3: …` said as the DataSet's row and column. */
function rowMessage(message: string): string {
  return message
    .replace(/^movements\.(\d+)\.(\w+): /, (_m, r: string, f: string) => `row ${r}, column "${NAME_OF[f] ?? f}": `)
    .replace(/^movements\.(\d+): /, 'row $1: ')
    .replace(/^item (\d+): /, 'row $1: ')
}
