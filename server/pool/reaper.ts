/**
 * The TTL safety net's second half. A busy marker's TTL expiring only deletes a
 * key; this puts the executor back. Two triggers, because each alone falls short:
 * keyspace notifications are prompt but fire-and-forget (lost while we are
 * disconnected), and a periodic sweep catches whatever they missed.
 */
import type { Redis } from 'ioredis';
import type { Logger } from '../log.ts';
import type { ExecutorPools } from './executorPool.ts';
import { parseBusyKey } from './keys.ts';

export interface Reaper {
  /** Whether Redis agreed to send expiry notifications (a managed Redis may refuse CONFIG SET). */
  notifications: boolean;
  /** Runs one sweep now over every pool; resolves with what it reclaimed. */
  sweep(): Promise<{ pool: string; executors: string[] }[]>;
  stop(): Promise<void>;
}

export async function startReaper(options: {
  redis: Redis;
  pools: ExecutorPools;
  poolNames: () => Iterable<string>;
  sweepIntervalMs: number;
  log: Logger;
}): Promise<Reaper> {
  const { redis, pools, log } = options;

  const reclaim = async (pool: string, via: 'expiry' | 'sweep') => {
    const executors = await pools.reclaim(pool, via);
    return { pool, executors };
  };

  let notifications = false;
  const subscriber = redis.duplicate();
  subscriber.on('error', (error) => log.warn('reaper subscriber error', { error: error.message }));
  try {
    // Keep whatever flags the Redis already has and add E (keyevent) + x (expired).
    const [, current = ''] = (await redis.config('GET', 'notify-keyspace-events')) as [string, string];
    const flags = new Set([...current, 'E', 'x']);
    if (flags.has('A')) flags.delete('x');
    await redis.config('SET', 'notify-keyspace-events', [...flags].join(''));
    const db = (redis.options.db ?? 0).toString();
    await subscriber.subscribe(`__keyevent@${db}__:expired`);
    subscriber.on('message', (_channel, key: string) => {
      const busy = parseBusyKey(key);
      if (!busy) return;
      reclaim(busy.pool, 'expiry').catch((error: unknown) => log.warn('reclaim after expiry failed', { key, error: String(error) }));
    });
    notifications = true;
  } catch (error) {
    log.warn('no keyspace notifications: expired executors come back on the sweep only', { error: String(error) });
  }

  const sweep = async () => {
    const results = [];
    for (const pool of options.poolNames()) results.push(await reclaim(pool, 'sweep'));
    return results.filter((r) => r.executors.length > 0);
  };
  const timer = setInterval(() => {
    sweep().catch((error: unknown) => log.warn('reaper sweep failed', { error: String(error) }));
  }, options.sweepIntervalMs);
  timer.unref();

  return {
    notifications,
    sweep,
    async stop() {
      clearInterval(timer);
      await subscriber.quit().catch(() => subscriber.disconnect());
    },
  };
}
