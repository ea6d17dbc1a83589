/**
 * The hall's rate limits as budgets a gate can ask: one in process memory (one
 * server), or one in Redis shared by every server instance behind a load balancer,
 * so a session that hops between instances, or a panel fired through all of them,
 * gets one budget, not one per instance. If Redis stops answering, the shared
 * budget falls back to a local one (rate-limiter-flexible's insurance limiter):
 * limits stay on, only per instance for a while.
 */
import type { Redis } from 'ioredis';
import { RateLimiterMemory, RateLimiterRedis, RateLimiterRes } from 'rate-limiter-flexible';
import { RateLimiter } from '../rateLimit.ts';

export interface Budget {
  /** Takes one unit for `key`; false when `key` is over its limit. */
  take(key: string): Promise<boolean>;
  /** Every key's budget full again. */
  clear(): Promise<void>;
  /** Forgets idle keys (a no-op where the store expires them itself). */
  sweep(): void;
}

/** `perSecond` sustained with bursts of `burst`: token buckets in this process. */
export function localBudget(perSecond: number, burst: number): Budget {
  const limiter = new RateLimiter(perSecond, burst);
  return {
    take: async (key) => limiter.take(key),
    clear: async () => limiter.clear(),
    sweep: () => limiter.sweep(),
  };
}

/**
 * The same budget in Redis: `burst` units per window of `burst / perSecond`
 * seconds (a fixed window, rate-limiter-flexible's Redis store: one atomic
 * command per take, keys expiring with their window).
 */
export function sharedBudget(redis: Redis, name: string, perSecond: number, burst: number): Budget {
  const keyPrefix = `idem:{limits}:${name}`;
  const duration = Math.max(1, Math.ceil(burst / perSecond));
  const limiter = new RateLimiterRedis({
    storeClient: redis,
    keyPrefix,
    points: burst,
    duration,
    insuranceLimiter: new RateLimiterMemory({ points: burst, duration }),
  });
  return {
    async take(key) {
      try {
        await limiter.consume(key);
        return true;
      } catch (error) {
        if (error instanceof RateLimiterRes) return false;
        throw error;
      }
    },
    async clear() {
      let cursor = '0';
      do {
        const [next, keys] = await redis.scan(cursor, 'MATCH', `${keyPrefix}:*`, 'COUNT', 500);
        cursor = next;
        if (keys.length > 0) await redis.unlink(...keys);
      } while (cursor !== '0');
    },
    sweep() {},
  };
}
