/**
 * The reorder window of one edge node's `seq` (Sparkplug 3.0, 6.4.18: 0-255, wrapping, shared by
 * all of a node's messages except NDEATH). A message after a gap waits here until the missing
 * ones arrive; the window is bounded in messages, and the caller's timer ends it.
 */
export interface SeqWindow<T> {
  /** The seq expected next; undefined until a birth (or, after a restart, the first message) sets it. */
  expected: number | undefined
  /** Messages ahead of `expected`, by seq. */
  readonly held: Map<number, T>
  /** When the oldest held message arrived (for the expiry timer). */
  heldSinceMs: number | undefined
}

export type Offer<T> =
  /** In order: handle `ready` (this message, then any held ones it unblocked), in order. */
  | { readonly kind: 'ready'; readonly ready: readonly T[] }
  /** Ahead of the expected seq: held. */
  | { readonly kind: 'held' }
  /** Behind the expected seq, or the seq of a message already held: a duplicate, or a message that arrived after its window ended. */
  | { readonly kind: 'late' }
  /** The window is full: the caller ends it (what it held plus this message). */
  | { readonly kind: 'overflow' }

export function newSeqWindow<T>(): SeqWindow<T> {
  return { expected: undefined, held: new Map(), heldSinceMs: undefined }
}

/** How far ahead of the expected seq a message may be held (half the seq space: the rest is "behind"). */
const AHEAD = 128

export function offer<T>(w: SeqWindow<T>, seq: number, item: T, maxHeld: number, nowMs: number): Offer<T> {
  if (w.expected === undefined || seq === w.expected) {
    const ready = [item]
    let next = (seq + 1) % 256
    for (let h = w.held.get(next); h !== undefined; h = w.held.get(next)) {
      w.held.delete(next)
      ready.push(h)
      next = (next + 1) % 256
    }
    w.expected = next
    if (w.held.size === 0) w.heldSinceMs = undefined
    return { kind: 'ready', ready }
  }
  const ahead = (seq - w.expected + 256) % 256
  // A resend of a message already held is a duplicate: it must not end the window the original waits in.
  if (ahead >= AHEAD || w.held.has(seq)) return { kind: 'late' }
  if (w.held.size >= maxHeld) return { kind: 'overflow' }
  w.held.set(seq, item)
  w.heldSinceMs ??= nowMs
  return { kind: 'held' }
}

/** Ends the window: what it held, in seq order from the expected one; the next message starts afresh. */
export function drain<T>(w: SeqWindow<T>): T[] {
  const start = w.expected ?? 0
  const out = [...w.held].sort(([a], [b]) => ((a - start + 256) % 256) - ((b - start + 256) % 256)).map(([, v]) => v)
  w.held.clear()
  w.heldSinceMs = undefined
  w.expected = undefined
  return out
}

/** A birth restarts the count: the next message is `birthSeq + 1`. */
export function rebase<T>(w: SeqWindow<T>, birthSeq: number): T[] {
  const dropped = drain(w)
  w.expected = (birthSeq + 1) % 256
  return dropped
}
