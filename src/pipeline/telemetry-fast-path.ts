import type { Field, Type } from 'protobufjs'
import type { IngestLimits } from '../config/config.js'
import { NAME_PATTERN } from '../domain/ids.js'
import { escapeTag, floatField, stringField } from '../domain/line-protocol.js'
import { MEASUREMENTS } from '../domain/measurements.js'
import type { MachineTopic } from '../domain/topic.js'

/**
 * Telemetry, the hot kind, in one pass: reads the protobuf wire format and
 * writes line protocol directly, without building the decoded message,
 * running zod or mapping objects to lines. That reference path (decode →
 * validate → toLines) allocated about 2.4 KB per sample, most of it zod's,
 * and its garbage collection was the ingest path's largest cost (see
 * bench/README).
 *
 * The fast path accepts a strict subset of what the reference path accepts.
 * At anything the reference path would reject, or that it is not sure about
 * (an unknown field, a header field after a sample, two members of the value
 * oneof, a number of 2^53 or more, a U+FFFD in a string), it returns undefined
 * and the message takes the reference path, which gives the rejection its
 * reason. So zod stays the specification; `test/unit/telemetry-fast-path.test.ts`
 * holds the two paths to the same lines on valid messages and checks on
 * mutated ones, and `telemetry-fast-path-wire.test.ts` on non-canonical
 * encodings, that the fast path never accepts what the reference rejects.
 */
export type TelemetryFastPath = (topic: MachineTopic, topicKey: string, payload: Buffer, nowMs: number) => string[] | undefined

/**
 * The fields the reader below assumes, checked against the loaded schema at
 * start-up (see describe()): proto3 fields without presence, a repeated
 * length-delimited `samples`, the four value members in the oneof `value`
 * (whose name the validator reads), and Quality's values 0-3.
 */
const TELEMETRY_FIELDS = 'seq:1:uint32:implicit,sentTsMs:2:int64:implicit,samples:3:Sample:repeated'
const SAMPLE_FIELDS =
  'signal:1:string:implicit,doubleValue:2:double:oneof value,intValue:3:sint64:oneof value,boolValue:4:bool:oneof value,' +
  'stringValue:5:string:oneof value,unit:6:string:implicit,tsMs:7:int64:implicit,quality:8:Quality{0|1|2|3}:implicit'

/**
 * The longest varint protobufjs' reader (src/reader.js) takes, by use: `tag()`
 * and `size()` at most 5 bytes (`invalid tag encoding`, `invalid length
 * encoding`, and a 5th byte may not carry a tag past 2^32 or a length past
 * 2^31); `uint32()`, `int32()`, `bool()` and the 64-bit readers at most 10.
 */
const TAG_BYTES = 5
const LENGTH_BYTES = 5
const VALUE_BYTES = 10
const MAX_LENGTH = 0x7fffffff
/** Integers from here on fall back: below it, both varint() and protobufjs' LongBits.toNumber() are exact. */
const MAX_EXACT = 2 ** 53

/** Wire tags (field << 3 | wire type). */
const T_SEQ = (1 << 3) | 0
const T_SENT = (2 << 3) | 0
const T_SAMPLE = (3 << 3) | 2
const S_SIGNAL = (1 << 3) | 2
const S_DOUBLE = (2 << 3) | 1
const S_INT = (3 << 3) | 0
const S_BOOL = (4 << 3) | 0
const S_STRING = (5 << 3) | 2
const S_UNIT = (6 << 3) | 2
const S_TS = (7 << 3) | 0
const S_QUALITY = (8 << 3) | 0

/** Quality enum value → its field, as toLines writes it (0, unspecified, reads as good). */
const QUALITY = [',quality="good"', ',quality="good"', ',quality="uncertain"', ',quality="bad"'] as const

/** Caches are cleared past these sizes: a gateway inventing signal names cannot grow memory. */
const MAX_MACHINES = 100_000
const MAX_SIGNALS_PER_MACHINE = 10_000
const MAX_UNITS = 1_000

/** Returns undefined (the reference path for every message) when the schema is not the one this reader knows. */
export function createTelemetryFastPath(limits: IngestLimits, telemetry: Type): TelemetryFastPath | undefined {
  const sample = telemetry.fields.samples?.resolvedType
  if (describe(telemetry) !== TELEMETRY_FIELDS || !sample || !('fields' in sample) || describe(sample) !== SAMPLE_FIELDS) return undefined

  /** topic → signal → the line's head, from the measurement to the space before the fields. */
  const heads = new Map<string, Map<string, string>>()
  const units = new Map<string, string>()
  let buf: Buffer = Buffer.alloc(0)
  let pos = 0

  /**
   * The one varint reader: at most `maxBytes` bytes, ending before `end`, or -1.
   * The sum is exact below 2^53 (each term is a 7-bit number times a power of
   * two) and never below 2^53 when the true value is not, so callers' range
   * checks decide exactly; an over-long encoding (0x80 padding) reads as its value.
   */
  function varint(end: number, maxBytes: number): number {
    let result = 0
    let mul = 1
    for (let i = 0; i < maxBytes && pos < end; i++) {
      const b = buf[pos++]!
      result += (b & 0x7f) * mul
      if (b < 0x80) return result
      mul *= 128
    }
    return -1
  }

  /** A length prefix that fits before `end`, or -1. */
  function length(end: number): number {
    const len = varint(end, LENGTH_BYTES)
    return len > MAX_LENGTH || len > end - pos ? -1 : len
  }

  /** An int64, uint64, sint64 (still zigzagged) or uint32 value below 2^53, or -1 (negative int64s among them). */
  function integer(end: number): number {
    const v = varint(end, VALUE_BYTES)
    return v >= MAX_EXACT ? -1 : v
  }

  function string(end: number): string | undefined {
    const len = length(end)
    if (len < 0) return undefined
    const s = buf.toString('utf8', pos, pos + len)
    pos += len
    // Ill-formed UTF-8 decodes to U+FFFD here but is a decode error for protobufjs: let it decide.
    return s.includes('\uFFFD') ? undefined : s
  }

  function headOf(topic: MachineTopic, topicKey: string, signal: string): string | undefined {
    let signals = heads.get(topicKey)
    if (!signals) {
      if (heads.size >= MAX_MACHINES) heads.clear()
      heads.set(topicKey, (signals = new Map()))
    }
    let head = signals.get(signal)
    if (head === undefined) {
      if (!NAME_PATTERN.test(signal)) return undefined
      if (signals.size >= MAX_SIGNALS_PER_MACHINE) signals.clear()
      head = `${MEASUREMENTS.telemetry},factory=${topic.factory},line=${topic.line},machine=${topic.machine},signal=${escapeTag(signal)},zone=${topic.zone} `
      signals.set(signal, head)
    }
    return head
  }

  function unitField(unit: string): string {
    if (unit === '') return ''
    let f = units.get(unit)
    if (f === undefined) {
      if (units.size >= MAX_UNITS) units.clear()
      units.set(unit, (f = ',unit=' + stringField(unit)))
    }
    return f
  }

  /** One sample ending at `end`, as its line; undefined to fall back. */
  function sampleLine(topic: MachineTopic, topicKey: string, end: number, sentTsMs: number, seqField: string, nowMs: number): string | undefined {
    let signal: string | undefined
    let unit = ''
    let ts = 0
    let quality = 0
    let member = 0
    let value = ''
    while (pos < end) {
      const tag = varint(end, TAG_BYTES)
      let field: number
      switch (tag) {
        case S_SIGNAL: {
          const s = string(end)
          if (s === undefined) return undefined
          signal = s
          continue
        }
        case S_UNIT: {
          const s = string(end)
          if (s === undefined || s.length > limits.maxStringLength) return undefined
          unit = s
          continue
        }
        case S_TS:
          ts = integer(end)
          if (ts < 0) return undefined
          continue
        case S_QUALITY:
          quality = integer(end)
          if (quality < 0 || quality > 3) return undefined
          continue
        case S_DOUBLE: {
          field = 2
          if (pos + 8 > end) return undefined
          const v = buf.readDoubleLE(pos)
          pos += 8
          if (!Number.isFinite(v)) return undefined
          value = 'value=' + floatField(v)
          break
        }
        case S_INT: {
          field = 3
          const z = integer(end)
          if (z < 0) return undefined
          // zigzag: even → z/2, odd → -(z+1)/2 (arithmetic, not bitwise: z may exceed 32 bits; exact below 2^53)
          value = 'value=' + floatField(z % 2 === 0 ? z / 2 : -(z + 1) / 2)
          break
        }
        case S_BOOL: {
          field = 4
          // protobufjs' bool() is true when any of up to 10 bytes carries a bit: exactly b !== 0, whatever b's size.
          const b = varint(end, VALUE_BYTES)
          if (b < 0) return undefined
          value = b !== 0 ? 'value_bool=true' : 'value_bool=false'
          break
        }
        case S_STRING: {
          field = 5
          const s = string(end)
          if (s === undefined || s.length > limits.maxStringLength) return undefined
          value = 'value_str=' + stringField(s)
          break
        }
        default:
          return undefined
      }
      // Two different members of the value oneof: protobufjs keeps both; leave that to the reference path.
      if (member !== 0 && member !== field) return undefined
      member = field
    }
    if (member === 0 || signal === undefined) return undefined
    if (ts === 0) ts = sentTsMs
    if (ts > nowMs + limits.maxFutureSkewMs || ts < nowMs - limits.maxAgeMs) return undefined
    const head = headOf(topic, topicKey, signal)
    if (head === undefined) return undefined
    return head + value + unitField(unit) + QUALITY[quality] + seqField + ' ' + ts
  }

  return (topic, topicKey, payload, nowMs) => {
    buf = payload
    pos = 0
    const end = payload.length
    let seq = 0
    let sentTsMs = 0
    let seqField = ''
    const lines: string[] = []
    while (pos < end) {
      const tag = varint(end, TAG_BYTES)
      if (tag === T_SAMPLE) {
        if (lines.length === 0) {
          // The header comes first in the canonical order; a header field after a sample falls back.
          if (sentTsMs === 0) sentTsMs = nowMs
          seqField = ',seq=' + seq + 'i'
        }
        const len = length(end)
        if (len < 0 || lines.length >= limits.maxBatch) return undefined
        const line = sampleLine(topic, topicKey, pos + len, sentTsMs, seqField, nowMs)
        if (line === undefined) return undefined
        lines.push(line)
      } else if ((tag === T_SEQ || tag === T_SENT) && lines.length === 0) {
        const v = integer(end)
        if (v < 0) return undefined
        if (tag === T_SEQ) {
          // protobufjs' uint32() keeps the low 32 bits of a larger value; leave that to it.
          if (v > 0xffffffff) return undefined
          seq = v
        } else {
          sentTsMs = v
        }
      } else {
        return undefined
      }
    }
    return lines.length > 0 ? lines : undefined
  }
}

/**
 * A message's fields as protobufjs' decoder (src/decoder.js) treats them, in
 * field-number order: name, number, type (an enum with its values), label
 * and encoding. The label decides how a field is read: `repeated` appends,
 * `map` reads entries, `required` is checked after the message, a oneof
 * member records its name in the oneof, `optional` (explicit presence) keeps
 * a default value, `implicit` (proto3) drops it; `delimited` fields come as
 * groups, not length-prefixed.
 */
function describe(type: Type): string {
  return [...type.fieldsArray]
    .sort((a, b) => a.id - b.id)
    .map(describeField)
    .join(',')
}

function describeField(f: Field): string {
  const label = f.map ? 'map' : f.repeated ? 'repeated' : f.required || f.rule === 'required' ? 'required' : f.partOf ? `oneof ${f.partOf.name}` : f.hasPresence ? 'optional' : 'implicit'
  const values = f.resolvedType && 'valuesById' in f.resolvedType ? `{${Object.keys(f.resolvedType.valuesById).join('|')}}` : ''
  return `${f.name}:${f.id}:${f.type}${values}:${label}${f.delimited ? ':delimited' : ''}`
}
