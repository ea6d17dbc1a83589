/**
 * Token buckets keyed by viewer (socket id or client address): a hall of phones can
 * click as much as it likes, but no one viewer can flood Redis or the other viewers.
 */
export class RateLimiter {
  private readonly buckets = new Map<string, { tokens: number; at: number }>();

  constructor(
    private readonly perSecond: number,
    private readonly burst: number,
    private readonly now: () => number = Date.now,
  ) {}

  /** Takes one token for `key`; false when that key is over its limit. */
  take(key: string): boolean {
    const now = this.now();
    const bucket = this.buckets.get(key) ?? { tokens: this.burst, at: now };
    bucket.tokens = Math.min(this.burst, bucket.tokens + ((now - bucket.at) / 1000) * this.perSecond);
    bucket.at = now;
    if (bucket.tokens < 1) {
      this.buckets.set(key, bucket);
      return false;
    }
    bucket.tokens -= 1;
    this.buckets.set(key, bucket);
    return true;
  }

  /** How many keys have a bucket (full ones go at the next sweep). */
  get size(): number {
    return this.buckets.size;
  }

  /** Every bucket full again. */
  clear(): void {
    this.buckets.clear();
  }

  forget(key: string): void {
    this.buckets.delete(key);
  }

  /** Drops full buckets so the map holds only viewers who clicked recently. */
  sweep(): void {
    const now = this.now();
    for (const [key, bucket] of this.buckets) {
      if (bucket.tokens + ((now - bucket.at) / 1000) * this.perSecond >= this.burst) this.buckets.delete(key);
    }
  }
}
