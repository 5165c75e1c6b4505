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
