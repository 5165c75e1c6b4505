/**
 * A token bucket: `ratePerS` tokens a second, holding at most `burst`.
 * Time is passed in (milliseconds, monotonic), so the arithmetic is pure.
 */
export class TokenBucket {
  private tokens: number
  private last: number

  constructor(
    private readonly ratePerS: number,
    private readonly burst: number,
    nowMs: number,
  ) {
    this.tokens = burst
    this.last = nowMs
  }

  private refill(nowMs: number): void {
    const elapsed = nowMs - this.last
    if (elapsed > 0) {
      this.tokens = Math.min(this.burst, this.tokens + (elapsed * this.ratePerS) / 1000)
      this.last = nowMs
    }
  }

  /** Takes a token if one is there (for refusals: nothing is owed when it is not). */
  tryTake(nowMs: number): boolean {
    this.refill(nowMs)
    if (this.tokens < 1) return false
    this.tokens -= 1
    return true
  }

  /**
   * Takes a token now, going into debt if need be, and returns how many
   * milliseconds to wait before the taker may proceed (0 = at once). Waits of
   * successive calls end in the order the calls were made.
   */
  reserve(nowMs: number): number {
    this.refill(nowMs)
    this.tokens -= 1
    return this.tokens >= 0 ? 0 : (-this.tokens * 1000) / this.ratePerS
  }

  /** True when the bucket has refilled completely (an idle bucket can be forgotten). */
  isFull(nowMs: number): boolean {
    this.refill(nowMs)
    return this.tokens >= this.burst
  }
}
