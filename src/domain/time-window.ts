/**
 * Half-open time windows [startMs, endMs) in Unix epoch ms: the unit that
 * timelines, shift calendars and OEE are cut with.
 */
export interface TimeWindow {
  readonly startMs: number
  readonly endMs: number
}

/** Length of a window in ms; 0 for an empty or inverted one. */
export function windowMs(w: TimeWindow): number {
  return w.endMs > w.startMs ? w.endMs - w.startMs : 0
}

/** The part of `w` inside `bounds`, or undefined when they do not overlap. */
export function clipWindow(w: TimeWindow, bounds: TimeWindow): TimeWindow | undefined {
  const startMs = Math.max(w.startMs, bounds.startMs)
  const endMs = Math.min(w.endMs, bounds.endMs)
  return endMs > startMs ? { startMs, endMs } : undefined
}

/**
 * Sorted, non-overlapping windows covering exactly the union of the input;
 * empty windows are dropped and touching ones joined, so summing lengths
 * never counts a millisecond twice.
 */
export function unionWindows(windows: readonly TimeWindow[]): TimeWindow[] {
  const sorted = windows.filter((w) => w.endMs > w.startMs).sort((a, b) => a.startMs - b.startMs)
  const out: { startMs: number; endMs: number }[] = []
  for (const w of sorted) {
    const last = out[out.length - 1]
    if (last && w.startMs <= last.endMs) last.endMs = Math.max(last.endMs, w.endMs)
    else out.push({ startMs: w.startMs, endMs: w.endMs })
  }
  return out
}

/** Total length of the union of the windows, in ms. */
export function unionMs(windows: readonly TimeWindow[]): number {
  return unionWindows(windows).reduce((sum, w) => sum + windowMs(w), 0)
}
