import type { SpMetric } from './payload.js'

/** Sparkplug B datatypes (Eclipse Sparkplug 3.0, section 6.4.16). */
export const DataType = {
  Int8: 1, Int16: 2, Int32: 3, Int64: 4, UInt8: 5, UInt16: 6, UInt32: 7, UInt64: 8,
  Float: 9, Double: 10, Boolean: 11, String: 12, DateTime: 13, Text: 14, UUID: 15,
  DataSet: 16, Bytes: 17, File: 18, Template: 19, PropertySet: 20, PropertySetList: 21,
  Int8Array: 22, Int16Array: 23, Int32Array: 24, Int64Array: 25, UInt8Array: 26, UInt16Array: 27,
  UInt32Array: 28, UInt64Array: 29, FloatArray: 30, DoubleArray: 31, BooleanArray: 32, StringArray: 33, DateTimeArray: 34,
} as const

/** A metric's value as stored: an exact bigint for 64-bit integers, arrays element by element. */
export type SpValue = number | bigint | boolean | string | readonly (number | bigint | boolean | string)[]

export type ValueResult = { ok: true; value: SpValue | null } | { ok: false; reason: string; message: string }

const INT_RANGES: Readonly<Record<number, readonly [bigint, bigint]>> = {
  [DataType.Int8]: [-128n, 127n],
  [DataType.Int16]: [-32768n, 32767n],
  [DataType.Int32]: [-(2n ** 31n), 2n ** 31n - 1n],
  [DataType.Int64]: [-(2n ** 63n), 2n ** 63n - 1n],
  [DataType.UInt8]: [0n, 255n],
  [DataType.UInt16]: [0n, 65535n],
  [DataType.UInt32]: [0n, 2n ** 32n - 1n],
  [DataType.UInt64]: [0n, 2n ** 64n - 1n],
}
const SIGNED_BITS: Readonly<Record<number, number>> = { [DataType.Int8]: 8, [DataType.Int16]: 16, [DataType.Int32]: 32, [DataType.Int64]: 64 }

const mismatch = (datatype: number, m: SpMetric): ValueResult => ({
  ok: false,
  reason: 'datatype_mismatch',
  message: `metric "${m.name ?? `alias ${m.alias ?? '?'}`}" declares datatype ${datatype} but carries ${m.value ?? 'no value'}`,
})
const outOfRange = (datatype: number, m: SpMetric, v: bigint): ValueResult => ({
  ok: false,
  reason: 'value_out_of_range',
  message: `metric "${m.name ?? `alias ${m.alias ?? '?'}`}" value ${v} does not fit datatype ${datatype}`,
})

/** A small integer as a number, a 64-bit one as a bigint only when a number would lose it. */
function exact(v: bigint): number | bigint {
  return v >= BigInt(Number.MIN_SAFE_INTEGER) && v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v
}

/**
 * The value a metric carries, checked against its declared datatype: the wrong member of the
 * value oneof, or an integer that does not fit, is a rejection with its reason. Signed types
 * arrive in unsigned fields as two's complement, sign-extended to 32 or 64 bits (what Tahu's
 * libraries write) or at their own width; both are read. `is_null` gives null.
 */
export function metricValue(datatype: number, m: SpMetric): ValueResult {
  if (m.isNull) return { ok: true, value: null }
  const range = INT_RANGES[datatype]
  if (range) {
    let raw: bigint
    if (m.value === 'intValue') raw = BigInt(m.intValue!)
    else if (m.value === 'longValue') raw = m.longValue!
    else return mismatch(datatype, m)
    let v = raw
    const bits = SIGNED_BITS[datatype]
    if (bits !== undefined && v > range[1]) {
      const width = m.value === 'intValue' && bits < 64 ? 32 : 64
      v = BigInt.asIntN(width, raw)
      // Written at its own width (0x80 for -128) rather than sign-extended.
      if (v > range[1] && raw < 2n ** BigInt(bits)) v = BigInt.asIntN(bits, raw)
    }
    if (v < range[0] || v > range[1]) return outOfRange(datatype, m, raw)
    return { ok: true, value: exact(v) }
  }
  switch (datatype) {
    case DataType.Float:
      return m.value === 'floatValue' ? finite(m, m.floatValue!) : mismatch(datatype, m)
    case DataType.Double:
      return m.value === 'doubleValue' ? finite(m, m.doubleValue!) : mismatch(datatype, m)
    case DataType.Boolean:
      return m.value === 'booleanValue' ? { ok: true, value: m.booleanValue! } : mismatch(datatype, m)
    case DataType.String:
    case DataType.Text:
    case DataType.UUID:
      return m.value === 'stringValue' ? { ok: true, value: m.stringValue! } : mismatch(datatype, m)
    case DataType.DateTime:
      // Milliseconds since the Unix epoch, UTC (section 6.4.16).
      if (m.value !== 'longValue') return mismatch(datatype, m)
      return m.longValue! <= BigInt(Number.MAX_SAFE_INTEGER) ? { ok: true, value: Number(m.longValue!) } : outOfRange(datatype, m, m.longValue!)
    default:
      if (datatype >= DataType.Int8Array && datatype <= DataType.DateTimeArray) {
        if (m.value !== 'bytesValue') return mismatch(datatype, m)
        try {
          return { ok: true, value: decodeArray(datatype, m.bytesValue!) }
        } catch (err) {
          return { ok: false, reason: 'bad_array', message: `metric "${m.name ?? '?'}": ${(err as Error).message}` }
        }
      }
      return { ok: false, reason: 'unsupported_datatype', message: `metric "${m.name ?? `alias ${m.alias ?? '?'}`}" has datatype ${datatype}, which is not stored (docs/sparkplug.md)` }
  }
}

function finite(m: SpMetric, v: number): ValueResult {
  return Number.isFinite(v) ? { ok: true, value: v } : { ok: false, reason: 'non_finite_number', message: `metric "${m.name ?? '?'}" is not a finite number` }
}

const ELEMENT_BYTES: Readonly<Record<number, number>> = {
  [DataType.Int8Array]: 1, [DataType.UInt8Array]: 1, [DataType.Int16Array]: 2, [DataType.UInt16Array]: 2,
  [DataType.Int32Array]: 4, [DataType.UInt32Array]: 4, [DataType.FloatArray]: 4,
  [DataType.Int64Array]: 8, [DataType.UInt64Array]: 8, [DataType.DoubleArray]: 8, [DataType.DateTimeArray]: 8,
}

/**
 * The 3.0 array types travel in `bytes_value` (section 6.4.17): fixed-width elements little
 * endian; BooleanArray as a uint32 LE count then the bits, first element in the most significant
 * bit; StringArray as NUL-terminated UTF-8 strings.
 */
export function decodeArray(datatype: number, bytes: Uint8Array): (number | bigint | boolean | string)[] {
  const b = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength)
  if (datatype === DataType.BooleanArray) {
    if (b.length < 4) throw new RangeError('BooleanArray shorter than its 4-byte count')
    const n = b.readUInt32LE(0)
    if (Math.ceil(n / 8) !== b.length - 4) throw new RangeError(`BooleanArray of ${n} elements needs ${Math.ceil(n / 8)} bytes of bits, has ${b.length - 4}`)
    return Array.from({ length: n }, (_, i) => ((b[4 + (i >> 3)]! >> (7 - (i & 7))) & 1) === 1)
  }
  if (datatype === DataType.StringArray) {
    if (b.length === 0) return []
    if (b[b.length - 1] !== 0) throw new RangeError('StringArray does not end with NUL')
    return b.toString('utf8', 0, b.length - 1).split('\u0000')
  }
  const size = ELEMENT_BYTES[datatype]!
  if (b.length % size !== 0) throw new RangeError(`${b.length} bytes is not a whole number of ${size}-byte elements`)
  const out: (number | bigint)[] = []
  for (let at = 0; at < b.length; at += size) {
    switch (datatype) {
      case DataType.Int8Array: out.push(b.readInt8(at)); break
      case DataType.UInt8Array: out.push(b.readUInt8(at)); break
      case DataType.Int16Array: out.push(b.readInt16LE(at)); break
      case DataType.UInt16Array: out.push(b.readUInt16LE(at)); break
      case DataType.Int32Array: out.push(b.readInt32LE(at)); break
      case DataType.UInt32Array: out.push(b.readUInt32LE(at)); break
      case DataType.FloatArray: out.push(b.readFloatLE(at)); break
      case DataType.DoubleArray: out.push(b.readDoubleLE(at)); break
      case DataType.Int64Array: out.push(exact(b.readBigInt64LE(at))); break
      case DataType.UInt64Array: out.push(exact(b.readBigUInt64LE(at))); break
      case DataType.DateTimeArray: out.push(Number(b.readBigInt64LE(at))); break
    }
  }
  return out
}
