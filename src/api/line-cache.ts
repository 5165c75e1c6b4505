import type { MovementRow } from '../domain/material-movements.js'
import { matchesQuery } from '../storage/movement-index.js'
import type { MaterialsReader, MovementQuery } from '../storage/ports.js'

/** A line's movements read at once when there are at most this many in the window; else reads go to the database as usual. */
export const LINE_READ_MAX_ROWS = 20_000
const CACHED_MOVEMENTS = ['produced', 'received', 'consumed'] as const

/**
 * A reader that answers from memory the reads confined to lines it has
 * loaded: a backward trace mostly stays on the line of the lot it starts
 * from, so one read of that line's produced, received and consumed movements
 * replaces a read per level (docs/materials.md, "why traces stay fast").
 * Any other read goes to `reader`.
 */
export function createLineCache(reader: MaterialsReader, window: { startMs: number; endMs: number }) {
  const lines = new Map<string, MovementRow[]>()
  const key = (r: { zone?: string | undefined; factory?: string | undefined; line?: string | undefined }) => `${r.zone}/${r.factory}/${r.line}`

  const covered = (q: MovementQuery): MovementRow[] | undefined => {
    if (q.startMs < window.startMs || q.endMs > window.endMs || !q.movements.every((m) => (CACHED_MOVEMENTS as readonly string[]).includes(m))) return undefined
    if (q.scope.line !== undefined) return lines.get(key(q.scope))
    if (q.orders !== undefined && q.orders.length > 0) {
      const k = key(q.orders[0]!)
      return q.orders.every((o) => key(o) === k) ? lines.get(k) : undefined
    }
    return undefined
  }

  const cached: MaterialsReader = {
    async movements(q, limit) {
      const rows = covered(q)
      if (!rows) return reader.movements(q, limit)
      const hit = rows.filter((r) => matchesQuery(r, q))
      return { rows: hit.slice(0, limit), truncated: hit.length > limit }
    },
    inspectionsOfLots: (...args) => reader.inspectionsOfLots(...args),
  }

  return {
    reader: cached,
    /** Reads a line's movements once; true when they are now answered from memory. */
    async load(line: { zone: string; factory: string; line: string }): Promise<boolean> {
      if (lines.has(key(line))) return true
      const res = await reader.movements({ scope: { zone: line.zone, factory: line.factory, line: line.line }, movements: [...CACHED_MOVEMENTS], startMs: window.startMs, endMs: window.endMs }, LINE_READ_MAX_ROWS)
      if (res.truncated) return false
      lines.set(key(line), res.rows)
      return true
    },
  }
}
