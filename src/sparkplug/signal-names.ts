import { crc32 } from 'node:zlib'

/** Characters outside our signal grammar (NAME_PATTERN in domain/ids.ts). */
const OUTSIDE = /[^A-Za-z0-9_.:/-]/g
const MAX_SIGNAL = 128
/** "_" and eight hex digits. */
const SUFFIX = 9

/** A Sparkplug metric name in our signal grammar: other characters as "_", at most 128 characters. */
export function plainSignal(name: string): string {
  return name.replace(OUTSIDE, '_').slice(0, MAX_SIGNAL)
}

/** A name that had to change, made its own: its plain form, cut to leave room for "_" and the CRC-32 of its UTF-8 bytes in hex. */
export function distinctSignal(name: string): string {
  const sum = crc32(Buffer.from(name, 'utf8')).toString(16).padStart(8, '0')
  return `${plainSignal(name).slice(0, MAX_SIGNAL - SUFFIX)}_${sum}`
}

/**
 * The signal of each metric of one birth (docs/sparkplug.md, "Where the data lands"): its plain
 * form, unless another metric of the birth has the same one (`Temp PV` and `Temp_PV`; `温度` and
 * `圧力`, both `__`; two long names alike in their first 128 characters). Then each name that had
 * to change takes `distinctSignal`, and a name already in the grammar keeps itself, so two
 * metrics never write one series. Deterministic for the birth's set of names, whatever its order.
 */
export function birthSignals(names: Iterable<string>): Map<string, string> {
  const byPlain = new Map<string, string[]>()
  for (const name of names) {
    const plain = plainSignal(name)
    const group = byPlain.get(plain)
    if (group) group.push(name)
    else byPlain.set(plain, [name])
  }
  const out = new Map<string, string>()
  for (const [plain, group] of byPlain) for (const name of group) out.set(name, group.length > 1 && name !== plain ? distinctSignal(name) : plain)
  return out
}
