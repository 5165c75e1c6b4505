import type { Field, Type } from 'protobufjs'
import type { IngestLimits } from '../config/config.js'
import { NAME_PATTERN } from '../domain/ids.js'
import { escapeTag, stringField } from '../domain/line-protocol.js'
import { MEASUREMENTS } from '../domain/measurements.js'
import type { MachineTopic } from '../domain/topic.js'
import type { LineSink } from './line-sink.js'
import { ByteKeyedCache, copyOf, sameBytes, sameBytesAt } from './byte-keyed-cache.js'
import { MachineHeads, VALUE_EQ, type Head } from './machine-heads.js'

/**
 * Telemetry, the hot kind, in one pass: reads the protobuf wire format and
 * writes line protocol directly, as bytes into the part's LineSink, without
 * building the decoded message, running zod, mapping objects to lines or
 * making a string per line. That reference path (decode →
 * validate → toLines) allocated about 2.4 KB per sample, most of it zod's,
 * and its garbage collection was the ingest path's largest cost (see
 * bench/README).
 *
 * The fast path accepts a strict subset of what the reference path accepts.
 * At anything the reference path would reject, or that it is not sure about
 * (an unknown field, a header field after a sample, two members of the value
 * oneof, a number of 2^53 or more, a U+FFFD in a string), it takes back what it
 * wrote of the message and returns -1, and the message takes the reference path, which gives the rejection its
 * reason. So zod stays the specification; `test/unit/telemetry-fast-path.test.ts`
 * holds the two paths to the same lines on valid messages and checks on
 * mutated ones, and `telemetry-fast-path-wire.test.ts` on non-canonical
 * encodings, that the fast path never accepts what the reference rejects.
 */
/** Writes the message's lines to `sink` and returns how many; -1 (nothing written) to decline. */
export type TelemetryFastPath = (topic: MachineTopic, topicKey: string, payload: Buffer, nowMs: number, sink: LineSink) => number

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
const QUALITY_SEQ = [',quality="good"', ',quality="good"', ',quality="uncertain"', ',quality="bad"'].map((q) => Buffer.from(q + ',seq='))
const VALUE_STR = Buffer.from('value_str=')
const BOOL_TRUE = Buffer.from('value_bool=true')
const BOOL_FALSE = Buffer.from('value_bool=false')
const INT_THEN_SPACE = Buffer.from('i ')
const NO_UNIT = Buffer.alloc(0)
/** A sample's value and timestamp on their way to the sink, unboxed (LineSink.numberAt). */
const values = new Float64Array(2)

/**
 * A little-endian double read through a scratch array: what Buffer#readDoubleLE does, but small
 * enough for V8 to inline into the sample loop, so the value is not boxed into a heap number per
 * sample on its way to the sink. Big-endian machines keep readDoubleLE.
 */
const scratch = new Float64Array(1)
const scratchBytes = new Uint8Array(scratch.buffer)
const LITTLE_ENDIAN = new Uint8Array(new Float64Array([1]).buffer)[7] === 0x3f
function readDouble(buf: Buffer, pos: number): number {
  if (!LITTLE_ENDIAN) return buf.readDoubleLE(pos)
  for (let i = 0; i < 8; i++) scratchBytes[i] = buf[pos + i]!
  return scratch[0]!
}

/** Caches are cleared past these sizes: a gateway inventing signal names cannot grow memory. */
const MAX_MACHINES = 100_000
const MAX_UNITS = 1_000

/** Returns undefined (the reference path for every message) when the schema is not the one this reader knows. */
export function createTelemetryFastPath(limits: IngestLimits, telemetry: Type): TelemetryFastPath | undefined {
  const sample = telemetry.fields.samples?.resolvedType
  if (describe(telemetry) !== TELEMETRY_FIELDS || !sample || !('fields' in sample) || describe(sample) !== SAMPLE_FIELDS) return undefined

  /** topic → signal (its bytes) → the line's head, from the measurement to the space before the fields. */
  const heads = new Map<string, MachineHeads>()
  /** A unit's bytes → its field. */
  const units = new ByteKeyedCache<Buffer>(MAX_UNITS)
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

  /**
   * A sample's ts_ms (below 2^53) into values[1], where it stays unboxed on its way to the sink (LineSink.numberAt); false when it is not one.
   * Any larger or negative int64 is far outside the window: the reference path rejects it as future_timestamp or stale_timestamp.
   */
  function timestamp(end: number): boolean {
    const v = varint(end, VALUE_BYTES)
    values[1] = v
    return v >= 0 && v < MAX_EXACT
  }

  /** The bytes of a length-delimited field (its start; `pos` moves past it), or -1. */
  function delimited(end: number): number {
    const len = length(end)
    if (len < 0) return -1
    pos += len
    return pos - len
  }

  /** A string field's bytes as text; undefined for ill-formed UTF-8, a decode error for protobufjs (let it decide). */
  function text(start: number, end: number): string | undefined {
    const s = buf.toString('utf8', start, end)
    return s.includes('\uFFFD') ? undefined : s
  }

  /** The head of the lines of the signal at `index` of a message on a machine, its name read from the payload's bytes; undefined to fall back. */
  function headOf(topic: MachineTopic, machine: MachineHeads, index: number, start: number, end: number): Head | undefined {
    const guess = machine.byPosition[index]
    if (guess !== undefined && sameBytes(guess.signal, buf, start, end)) return guess
    let head = machine.bySignal.get(buf, start, end)
    if (head === undefined) {
      const signal = text(start, end)
      if (signal === undefined || !NAME_PATTERN.test(signal)) return undefined
      const h = `${MEASUREMENTS.telemetry},factory=${topic.factory},line=${topic.line},machine=${topic.machine},signal=${escapeTag(signal)},zone=${topic.zone} `
      head = { signal: copyOf(buf, start, end), headValue: Buffer.from(h + 'value=') }
      machine.bySignal.set(buf, start, end, head, head.signal)
    }
    // Samples come in order from index 0 (below limits.maxBatch): the array is as long as the longest message.
    machine.byPosition[index] = head
    return head
  }

  function machineHeads(topicKey: string): MachineHeads {
    let machine = heads.get(topicKey)
    if (!machine) {
      if (heads.size >= MAX_MACHINES) heads.clear()
      heads.set(topicKey, (machine = new MachineHeads()))
    }
    return machine
  }

  /** The unit field of a unit read from the payload's bytes; undefined to fall back. */
  function unitField(start: number, end: number): Buffer | undefined {
    let f = units.get(buf, start, end)
    if (f === undefined) {
      const unit = text(start, end)
      if (unit === undefined || unit.length > limits.maxStringLength) return undefined
      f = Buffer.from(',unit=' + stringField(unit))
      units.set(buf, start, end, f)
    }
    return f
  }

  /** One sample ending at `end`, written to `sink` as its line; false to fall back. */
  function sampleLine(topic: MachineTopic, machine: MachineHeads, index: number, end: number, sentTsMs: number, seq: number, nowMs: number, sink: LineSink): boolean {
    let signal = -1
    let signalEnd = -1
    let unit = -1
    let unitEnd = -1
    values[1] = 0
    let quality = 0
    let member = 0
    let num = 0
    let str = ''
    while (pos < end) {
      const tag = varint(end, TAG_BYTES)
      let field: number
      switch (tag) {
        // A name given twice (no encoder does) goes to the reference path, which checks both.
        case S_SIGNAL:
          if (signal >= 0) return false
          signal = delimited(end)
          if (signal < 0) return false
          signalEnd = pos
          continue
        case S_UNIT:
          if (unit >= 0) return false
          unit = delimited(end)
          if (unit < 0) return false
          unitEnd = pos
          continue
        case S_TS:
          if (!timestamp(end)) return false
          continue
        case S_QUALITY:
          quality = integer(end)
          if (quality < 0 || quality > 3) return false
          continue
        case S_DOUBLE: {
          field = 2
          if (pos + 8 > end) return false
          num = readDouble(buf, pos)
          pos += 8
          if (!Number.isFinite(num)) return false
          break
        }
        case S_INT: {
          field = 3
          const z = integer(end)
          if (z < 0) return false
          // zigzag: even → z/2, odd → -(z+1)/2 (arithmetic, not bitwise: z may exceed 32 bits; exact below 2^53)
          num = z % 2 === 0 ? z / 2 : -(z + 1) / 2
          break
        }
        case S_BOOL: {
          field = 4
          // protobufjs' bool() is true when any of up to 10 bytes carries a bit: exactly b !== 0, whatever b's size.
          const b = varint(end, VALUE_BYTES)
          if (b < 0) return false
          num = b !== 0 ? 1 : 0
          break
        }
        case S_STRING: {
          field = 5
          const at = delimited(end)
          const s = at < 0 ? undefined : text(at, pos)
          if (s === undefined || s.length > limits.maxStringLength) return false
          str = s
          break
        }
        default:
          return false
      }
      // Two different members of the value oneof: protobufjs keeps both; leave that to the reference path.
      if (member !== 0 && member !== field) return false
      member = field
    }
    if (member === 0 || signal < 0) return false
    if (values[1] === 0) values[1] = sentTsMs
    const ts = values[1]!
    if (ts > nowMs + limits.maxFutureSkewMs || ts < nowMs - limits.maxAgeMs) return false
    // The head: from the machine's layout when this position has the name laid out, else looked up.
    let headValue: Uint8Array
    if (index < machine.heads.length && sameBytesAt(machine.names, machine.nameAt[index]!, machine.nameAt[index + 1]!, buf, signal, signalEnd)) {
      headValue = machine.heads[index]!
    } else {
      const head = headOf(topic, machine, index, signal, signalEnd)
      if (head === undefined) return false
      machine.stale = true
      headValue = head.headValue
    }
    // An empty unit is no unit, as toLines has it.
    const unitBytes = unitEnd > unit ? unitField(unit, unitEnd) : NO_UNIT
    if (unitBytes === undefined) return false
    // The line toLines writes: head, the value field (a number as floatField prints it), unit, quality, seq, time.
    sink.begin()
    if (member === 4) {
      sink.bytes(headValue.subarray(0, headValue.length - VALUE_EQ))
      sink.bytes(num === 1 ? BOOL_TRUE : BOOL_FALSE)
    } else if (member === 5) {
      sink.bytes(headValue.subarray(0, headValue.length - VALUE_EQ))
      sink.bytes(VALUE_STR)
      sink.utf8(stringField(str))
    } else {
      sink.bytes(headValue)
      values[0] = num
      sink.numberAt(values, 0)
    }
    if (unitBytes.length > 0) sink.bytes(unitBytes)
    sink.bytes(QUALITY_SEQ[quality]!)
    sink.uint(seq)
    sink.bytes(INT_THEN_SPACE)
    sink.uintAt(values, 1)
    return true
  }

  return (topic, topicKey, payload, nowMs, sink) => {
    buf = payload
    pos = 0
    const end = payload.length
    const startPos = sink.length
    const startLines = sink.lines
    let seq = 0
    let sentTsMs = 0
    let lines = 0
    let machine: MachineHeads | undefined
    while (pos < end) {
      const tag = varint(end, TAG_BYTES)
      if (tag === T_SAMPLE) {
        // The header comes first in the canonical order; a header field after a sample falls back.
        if (lines === 0 && sentTsMs === 0) sentTsMs = nowMs
        const len = length(end)
        if (len < 0 || lines >= limits.maxBatch || !sampleLine(topic, (machine ??= machineHeads(topicKey)), lines, pos + len, sentTsMs, seq, nowMs, sink)) {
          sink.rewind(startPos, startLines)
          return -1
        }
        lines++
      } else if ((tag === T_SEQ || tag === T_SENT) && lines === 0) {
        const v = integer(end)
        // protobufjs' uint32() keeps the low 32 bits of a larger seq; leave that to it.
        if (v < 0 || (tag === T_SEQ && v > 0xffffffff)) return -1
        if (tag === T_SEQ) seq = v
        else sentTsMs = v
      } else {
        sink.rewind(startPos, startLines)
        return -1
      }
    }
    if (lines === 0) return -1
    if (machine!.stale) machine!.layOut(lines)
    return lines
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
