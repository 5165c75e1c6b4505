/** A seeded pseudo-random source: runs with the same seed make the same choices. */
export interface Prng {
  /** Uniform in [0, 1). */
  next(): number
  /** Uniform in [min, max). */
  range(min: number, max: number): number
  /** Uniform integer in [min, max]. */
  int(min: number, max: number): number
  chance(p: number): boolean
  pick<T>(items: readonly T[]): T
  /** Normally distributed (Box-Muller). */
  normal(mean: number, sd: number): number
  /** Exponentially distributed with this mean: waiting times between random events. */
  exponential(mean: number): number
}

/** mulberry32: tiny, fast and good enough for simulated data (not for anything secret). */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

/**
 * Mixes a run seed with a name (e.g. a machine's path) into a 32-bit seed, so
 * each machine has its own stream that does not shift when others are added or
 * left out by --max-machines.
 */
export function deriveSeed(seed: number, name: string): number {
  // FNV-1a over the name, then the seed folded in and avalanched (murmur3 finaliser).
  let h = 0x811c9dc5
  for (let i = 0; i < name.length; i++) {
    h ^= name.charCodeAt(i)
    h = Math.imul(h, 0x01000193)
  }
  h ^= seed >>> 0
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b)
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35)
  return (h ^ (h >>> 16)) >>> 0
}

/** Creates a seeded {@link Prng}. */
export function createPrng(seed: number): Prng {
  const next = mulberry32(seed)
  const range = (min: number, max: number) => min + (max - min) * next()
  return {
    next,
    range,
    int: (min, max) => Math.floor(range(min, max + 1)),
    chance: (p) => next() < p,
    pick<T>(items: readonly T[]): T {
      if (items.length === 0) throw new Error('pick from an empty list')
      return items[Math.floor(next() * items.length)] as T
    },
    normal(mean, sd) {
      const u = 1 - next() // (0, 1]: log(0) would be -Infinity
      return mean + sd * Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * next())
    },
    exponential: (mean) => -mean * Math.log(1 - next()),
  }
}
