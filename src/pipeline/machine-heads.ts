import { ByteKeyedCache } from './byte-keyed-cache.js'

/** Signals a machine's cache holds at most: past that it starts again empty, so a gateway inventing names cannot grow memory. */
const MAX_SIGNALS_PER_MACHINE = 10_000

/** A signal's line head followed by `value=` (numbers, the common case; other values leave `value=` out); `signal` is the name's bytes. */
export interface Head {
  readonly signal: Uint8Array
  readonly headValue: Buffer
}

/**
 * A machine's line heads, by the signal name's bytes, and by position as its messages have them:
 * a gateway sends a machine's signals in the same order message after message, so the sample at
 * position i is checked against that position's name first, with no hashing or lookup. The names
 * and heads by position are also laid out back to back (the layout: names in one buffer, heads as
 * views of another), rebuilt after a message that changed them, so the sample loop reads one
 * machine's bytes in order instead of a head object, its name and its buffer per sample, scattered
 * over the heap: in the service, where the rest of the work keeps evicting them from the caches,
 * that lookup took a tenth of the main thread at 50 samples a message (docs/decisions.md).
 */
export class MachineHeads {
  readonly bySignal = new ByteKeyedCache<Head>(MAX_SIGNALS_PER_MACHINE)
  /** The heads by position of the latest messages (the longest one's length). */
  readonly byPosition: Head[] = []
  /**
   * The layout: each position's head followed by `value=` (views of one buffer, made together), and
   * the names back to back. A position past it, or whose name differs, takes byPosition and marks
   * the layout stale.
   */
  heads: Uint8Array[] = []
  names: Uint8Array = EMPTY
  /** Where position i's name starts in `names` (i ≤ heads.length: the last entry ends the last name). */
  nameAt = new Int32Array(1)
  stale = false

  /** Lays out the first `n` positions of byPosition. */
  layOut(n: number): void {
    let nameBytes = 0
    let headBytes = 0
    for (let i = 0; i < n; i++) {
      nameBytes += this.byPosition[i]!.signal.length
      headBytes += this.byPosition[i]!.headValue.length
    }
    const names = new Uint8Array(nameBytes)
    const slab = new Uint8Array(headBytes)
    const nameAt = new Int32Array(n + 1)
    const heads = new Array<Uint8Array>(n)
    let at = 0
    for (let i = 0; i < n; i++) {
      const h = this.byPosition[i]!
      names.set(h.signal, nameAt[i]!)
      nameAt[i + 1] = nameAt[i]! + h.signal.length
      slab.set(h.headValue, at)
      heads[i] = slab.subarray(at, (at += h.headValue.length))
    }
    this.names = names
    this.nameAt = nameAt
    this.heads = heads
    this.stale = false
  }
}

const EMPTY = new Uint8Array(0)
/** The length of `value=`, which ends every headValue (a bool or string value writes the head without it). */
export const VALUE_EQ = 6
