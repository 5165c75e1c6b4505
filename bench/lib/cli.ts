/**
 * The bench's command line: errors an operator can act on. A mistake in the arguments is a
 * UsageError: run.ts prints its message as one line, points at the usage and exits 2, with no stack
 * trace (which stays for real failures).
 */
export class UsageError extends Error {
  override readonly name = 'UsageError'
}

export interface OptionSpec {
  readonly type: 'string' | 'boolean'
  readonly multiple?: boolean
}
export type OptionSpecs = Readonly<Record<string, OptionSpec>>
export type OptionValues = Record<string, string | boolean | string[] | undefined>

/**
 * `--name value`, `--name=value` and boolean `--name`, nothing else (no positional arguments, no
 * short options). A value may start with "-" (`--duration -5` is a value, which its range check then
 * refuses), but not with "--": that is the next option, and the one before lacks its value. An
 * option given twice keeps its last value unless it is `multiple`.
 */
export function parseOptions(argv: readonly string[], specs: OptionSpecs): OptionValues {
  const values: OptionValues = {}
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!
    const m = /^--([^=]+)(?:=([\s\S]*))?$/.exec(arg)
    if (!m) {
      if (arg.startsWith('-') && arg !== '-') throw new UsageError(`unknown option ${arg}${suggestion(arg.replace(/^-+/, ''), specs)}`)
      const before = i > 0 ? /^--([^=]+)$/.exec(argv[i - 1]!)?.[1] : undefined
      throw new UsageError(`unexpected argument "${arg}"${before && specs[before]?.type === 'boolean' ? ` (--${before} takes no value)` : ''}`)
    }
    const name = m[1]!
    const spec = specs[name]
    if (!spec) throw new UsageError(`unknown option --${name}${suggestion(name, specs)}`)
    let value: string | boolean
    if (spec.type === 'boolean') {
      if (m[2] !== undefined) throw new UsageError(`--${name} takes no value`)
      value = true
    } else if (m[2] !== undefined) {
      value = m[2]
    } else {
      const next = argv[i + 1]
      if (next === undefined || next.startsWith('--')) throw new UsageError(`--${name} needs a value${next === undefined ? '' : ` (for one that starts with "-", --${name}=VALUE)`}`)
      value = next
      i++
    }
    if (spec.multiple) values[name] = [...((values[name] as string[] | undefined) ?? []), String(value)]
    else values[name] = value
  }
  return values
}

/** A number option within [min, max] (the default when not given); anything else is a UsageError naming the option. */
export function numberOption(values: OptionValues, name: string, dflt: number, min: number, max: number): number {
  const v = values[name]
  if (v === undefined) return dflt
  const n = typeof v === 'string' && v.trim() !== '' ? Number(v) : NaN
  if (!Number.isFinite(n) || n < min || n > max) throw new UsageError(`--${name} must be a number from ${min} to ${max}, got "${String(v)}"`)
  return n
}

/** " (did you mean --duration?)" for a near miss, " (this scenario takes no options)", or "". */
function suggestion(name: string, specs: OptionSpecs): string {
  const names = Object.keys(specs)
  if (names.length === 0) return ' (this scenario takes no options)'
  const near = closest(name, names)
  return near ? ` (did you mean --${near}?)` : ''
}

/** The candidate nearest to `word` by edit distance, if near enough to be a typo (or `word` is a prefix of it). */
export function closest(word: string, candidates: readonly string[]): string | undefined {
  let best: { c: string; d: number } | undefined
  for (const c of candidates) {
    const d = c.startsWith(word) && word.length >= 3 ? 0.5 : editDistance(word, c)
    if (!best || d < best.d) best = { c, d }
  }
  return best && best.d <= Math.max(1, Math.floor(word.length / 3)) ? best.c : undefined
}

/** Insertions, deletions, substitutions and swaps of two neighbours ("fualt" is one from "fault"). */
function editDistance(a: string, b: string): number {
  const d: number[][] = Array.from({ length: a.length + 1 }, (_, i) => Array.from({ length: b.length + 1 }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)))
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const row = d[i]!
      row[j] = Math.min(d[i - 1]![j]! + 1, row[j - 1]! + 1, d[i - 1]![j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1))
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) row[j] = Math.min(row[j]!, d[i - 2]![j - 2]! + 1)
    }
  }
  return d[a.length]![b.length]!
}
