/** Helpers for the in-memory indexes' columns of typed arrays (storage/*-index.ts, recent-counts.ts). */

type Column = Float64Array | Float32Array | Int32Array

/** The first index in `ts[0..n)` (ascending) whose value is not below `t`. */
export function lowerBound(ts: Float64Array, n: number, t: number): number {
  let lo = 0
  let hi = n
  while (lo < hi) {
    const mid = (lo + hi) >>> 1
    if (ts[mid]! < t) lo = mid + 1
    else hi = mid
  }
  return lo
}

/** A copy of `a` with room for `size` values. */
export function grown<T extends Column>(a: T, size: number): T {
  const b = new (a.constructor as new (n: number) => T)(size)
  b.set(a)
  return b
}

/**
 * Drops the oldest entries of per-machine time columns, a tenth of the time they span at a time,
 * until a tenth of the bound `max` is free: `drop(cutMs)` removes everything before `cutMs`.
 */
export function shrinkOldest(machines: ReadonlyMap<unknown, { readonly n: number; readonly ts: Float64Array }>, size: () => number, max: number, drop: (cutMs: number) => void): void {
  while (size() > max * 0.9) {
    let oldest = Number.POSITIVE_INFINITY
    let newest = Number.NEGATIVE_INFINITY
    for (const m of machines.values()) {
      if (m.n === 0) continue
      oldest = Math.min(oldest, m.ts[0]!)
      newest = Math.max(newest, m.ts[m.n - 1]!)
    }
    drop(oldest + Math.max(1, (newest - oldest) / 10))
  }
}
