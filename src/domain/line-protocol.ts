/**
 * InfluxDB line protocol, built directly as strings: about 8x cheaper per
 * point than the client's Point builder (docs/storage.md). The telemetry fast
 * path writes the same lines as bytes (pipeline/line-sink.ts): the same text,
 * numbers included (LineSink.number prints what floatField does).
 * Escaping rules: https://docs.influxdata.com/influxdb/v1/write_protocols/line_protocol_reference/
 */
const TAG_SPECIAL = /[,= \\\n]/g
const HAS_TAG_SPECIAL = /[,= \\\n]/
const STRING_SPECIAL = /["\\\n]/g
const HAS_STRING_SPECIAL = /["\\\n]/

/** Escapes a tag key or value (commas, equals signs, spaces; newlines are not allowed and become spaces). */
export function escapeTag(value: string): string {
  return HAS_TAG_SPECIAL.test(value) ? value.replace(TAG_SPECIAL, (c) => (c === '\n' ? '\\ ' : '\\' + c)) : value
}

/** A string field value, quoted; a newline (which would end the line) is written as a space. */
export function stringField(value: string): string {
  return '"' + (HAS_STRING_SPECIAL.test(value) ? value.replace(STRING_SPECIAL, (c) => (c === '\n' ? ' ' : '\\' + c)) : value) + '"'
}

export function floatField(value: number): string {
  // Integers written as floats need no suffix; JS prints finite doubles in a form InfluxDB parses.
  return String(value)
}

export function intField(value: number): string {
  return String(Math.trunc(value)) + 'i'
}

export function boolField(value: boolean): string {
  return value ? 'true' : 'false'
}

export type FieldMap = Record<string, string | undefined>

/** Joins a line; fields whose encoded value is undefined are left out. */
export function line(measurement: string, tags: string, fields: FieldMap, tsMs: number): string {
  let f = ''
  for (const key in fields) {
    const v = fields[key]
    if (v === undefined) continue
    f += (f === '' ? '' : ',') + key + '=' + v
  }
  return measurement + ',' + tags + ' ' + f + ' ' + tsMs
}

/** Reads an (unescaped) tag value back from a line we built; undefined when absent. */
export function tagValue(lineText: string, key: string): string | undefined {
  const end = lineText.indexOf(' ')
  const head = end < 0 ? lineText : lineText.slice(0, end)
  const m = new RegExp(`,${key}=([^,]+)`).exec(head)
  return m?.[1]
}

export interface ParsedLine {
  readonly measurement: string
  readonly tags: Record<string, string>
  /** Strings unquoted and unescaped; integers (`12i`) and floats as numbers; booleans as booleans. */
  readonly fields: Record<string, string | number | boolean>
  readonly tsMs: number
}

/** Parses a line this service built (`line` above: millisecond timestamp); undefined when it is not one. */
export function parseLine(text: string): ParsedLine | undefined {
  let i = 0
  const readUntil = (stops: string): string => {
    let out = ''
    while (i < text.length && !stops.includes(text[i]!)) {
      if (text[i] === '\\' && i + 1 < text.length) i++
      out += text[i++]
    }
    return out
  }
  const measurement = readUntil(', ')
  const tags: Record<string, string> = {}
  while (text[i] === ',') {
    i++
    const key = readUntil('=')
    i++
    tags[key] = readUntil(', ')
  }
  if (text[i++] !== ' ') return undefined
  const fields: Record<string, string | number | boolean> = {}
  for (;;) {
    const key = readUntil('=')
    if (text[i++] !== '=') return undefined
    if (text[i] === '"') {
      i++
      let s = ''
      while (i < text.length && text[i] !== '"') {
        if (text[i] === '\\' && i + 1 < text.length) i++
        s += text[i++]
      }
      if (text[i++] !== '"') return undefined
      fields[key] = s
    } else {
      const raw = readUntil(', ')
      if (raw === 'true' || raw === 'false') fields[key] = raw === 'true'
      else {
        const n = Number(raw.endsWith('i') ? raw.slice(0, -1) : raw)
        if (!Number.isFinite(n)) return undefined
        fields[key] = n
      }
    }
    if (text[i] === ',') i++
    else break
  }
  if (text[i++] !== ' ') return undefined
  const tsMs = Number(text.slice(i))
  return Number.isFinite(tsMs) ? { measurement, tags, fields, tsMs } : undefined
}
