/** No lines: a body of no bytes (shared: never written to, never transferred). */
export const EMPTY_BODY = Buffer.alloc(0)

/** Bodies of lines (each without a trailing newline) joined by newlines, empty ones left out: the only one as it is, or one new buffer. */
export function joinLineBodies(bodies: readonly Uint8Array[]): Buffer {
  const parts = bodies.filter((b) => b.length > 0)
  if (parts.length === 0) return EMPTY_BODY
  if (parts.length === 1) return asBuffer(parts[0]!)
  let size = -1
  for (const b of parts) size += b.length + 1
  const out = Buffer.allocUnsafe(size)
  let pos = 0
  for (const b of parts) {
    if (pos > 0) out[pos++] = 0x0a
    out.set(b, pos)
    pos += b.length
  }
  return out
}

/** A Buffer over the same memory (what a worker's message delivers is a plain Uint8Array). */
export function asBuffer(b: Uint8Array): Buffer {
  return Buffer.isBuffer(b) ? b : Buffer.from(b.buffer, b.byteOffset, b.byteLength)
}
