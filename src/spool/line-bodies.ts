import { BufferPool } from './buffer-pool.js'

/** No lines: a body of no bytes (shared: never written to, never transferred). */
export const EMPTY_BODY = Buffer.alloc(0)

/** Bodies of lines (each without a trailing newline) joined by newlines, empty ones left out: the only one as it is, or one new buffer. */
export function joinLineBodies(bodies: readonly Uint8Array[]): Buffer {
  const size = joinedSize(bodies)
  if (size < 0) return EMPTY_BODY
  const only = onlyBody(bodies, size)
  return only ? asBuffer(only) : writeJoined(Buffer.allocUnsafe(size), bodies)
}

/** The bytes of the non-empty `bodies` joined by newlines; -1 when there is none. */
function joinedSize(bodies: readonly Uint8Array[]): number {
  let size = -1
  for (const b of bodies) if (b.length > 0) size += b.length + 1
  return size
}

/** The one non-empty body when there is only one (a second would add its newline to the size). */
function onlyBody(bodies: readonly Uint8Array[], size: number): Uint8Array | undefined {
  return bodies.find((b) => b.length === size)
}

/** Writes the non-empty `bodies` into `out` from its start, a newline between each two; `out` is exactly their size. */
function writeJoined(out: Buffer, bodies: readonly Uint8Array[]): Buffer {
  let pos = 0
  for (const b of bodies) {
    if (b.length === 0) continue
    if (pos > 0) out[pos++] = 0x0a
    out.set(b, pos)
    pos += b.length
  }
  return out
}

/** Whether `b` is all of its ArrayBuffer (what the InfluxDB writer can send without a copy). */
export function isWhole(b: Uint8Array): boolean {
  return b.byteOffset === 0 && b.byteLength === b.buffer.byteLength && b.buffer instanceof ArrayBuffer
}

/** A Buffer over the same memory (what a worker's message delivers is a plain Uint8Array). */
export function asBuffer(b: Uint8Array): Buffer {
  return Buffer.isBuffer(b) ? b : Buffer.from(b.buffer, b.byteOffset, b.byteLength)
}

/**
 * Request bodies joined into buffers that are used again (`BufferPool.wholeBuffers`: each body is
 * its whole ArrayBuffer, which the InfluxDB writer sends without a copy): each request's bytes in
 * fresh memory alone started a full collection every half second under load (docs/decisions.md,
 * "Full collections from external memory").
 */
export class BodyPool {
  private readonly pool: BufferPool

  constructor(
    /** A body larger than this is joined into fresh memory, as before. */
    maxBytes = 32 * 1024 * 1024,
    /** Buffers kept for reuse at most (one per request in flight is enough). */
    keep = 8,
  ) {
    this.pool = BufferPool.wholeBuffers(maxBytes, keep)
  }

  /**
   * As joinLineBodies, every result its whole ArrayBuffer: an only body that already is one as it
   * is, anything else into a buffer of the pool. An only body that is a view (a part's slab, a
   * piece of a larger read) is copied here too: given a view, the InfluxDB client's transport copies
   * it into fresh, zeroed memory (`Buffer.from`), 4 % of the main thread at 50 samples a message.
   */
  join(bodies: readonly Uint8Array[]): Buffer {
    const size = joinedSize(bodies)
    if (size < 0) return EMPTY_BODY
    const only = onlyBody(bodies, size)
    return only && isWhole(only) ? asBuffer(only) : writeJoined(this.pool.alloc(size), bodies)
  }

  /** `body` (from `join`) is read no more: its memory may hold the next one. */
  release(body: Buffer): void {
    this.pool.release(body)
  }
}
