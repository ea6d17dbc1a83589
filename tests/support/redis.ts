/**
 * Helpers for tests that talk to a Redis directly: an `ExecutorPools` on its own
 * connection with a capturing logger, and small readers of pool state and log lines.
 * Every Redis used here is one the test started (or, for the talk's test, one it
 * was pointed at explicitly), never the machine's shared one.
 */
import { Socket } from 'node:net';
import { Redis } from 'ioredis';
import { ExecutorPools, type PoolOptions } from '../../server/pool/executorPool.ts';
import { loadScripts } from '../../server/redis/scripts.ts';
import { createCapturingLogger } from '../../server/log.ts';
import type { PoolSnapshot } from '../../server/protocol.ts';
import { PRESENTER_SEEN_KEY } from '../../server/hall/talkPresence.ts';

export const TEST_POOL_OPTIONS: PoolOptions = { busyTtlSeconds: 600, doubleReleaseWindowMs: 1000, defaultSize: 4 };

export interface TestPools {
  redis: Redis;
  pools: ExecutorPools;
  /** Every structured log line the pools wrote. */
  logLines: string[];
  close(): Promise<void>;
}

export async function connectRedis(url: string): Promise<Redis> {
  const redis = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 1 });
  redis.on('error', () => {}); // a test that stops Redis on purpose must not crash on the reconnect noise
  await redis.connect();
  return redis;
}

/** Pools on a connection of their own, with the scripts loaded as the server loads them. */
export async function connectPools(url: string, options: Partial<PoolOptions> = {}): Promise<TestPools> {
  const redis = await connectRedis(url);
  const { logger, lines } = createCapturingLogger();
  const pools = new ExecutorPools(redis, loadScripts(redis), { ...TEST_POOL_OPTIONS, ...options }, logger);
  return {
    redis,
    pools,
    logLines: lines,
    close: async () => void (await redis.quit().catch(() => redis.disconnect())),
  };
}

export function occurrences(list: readonly string[], item: string): number {
  return list.filter((x) => x === item).length;
}

/** What a pool holds, without the parts that change with the clock (readAt, TTLs left). */
export function poolState(snapshot: PoolSnapshot): Pick<PoolSnapshot, 'pool' | 'available' | 'busy' | 'executors'> {
  const { pool, available, busy, executors } = snapshot;
  return { pool, available, busy, executors };
}

/** The parsed log lines whose `msg` is `msg`. */
export function logged(lines: readonly string[], msg: string): Record<string, unknown>[] {
  return lines.map((line) => JSON.parse(line) as Record<string, unknown>).filter((entry) => entry.msg === msg);
}

/** Whether something accepts TCP connections on 127.0.0.1:port. */
export function isPortOpen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = new Socket();
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
    socket.connect(port, '127.0.0.1');
  });
}

/**
 * Polls an external condition (a process going away, a port closing) that sends
 * no event we could wait for. Not for synchronising with our own code.
 */
export async function pollUntil(condition: () => Promise<boolean>, timeoutMs: number, what: string): Promise<number> {
  const started = Date.now();
  for (;;) {
    if (await condition()) return Date.now() - started;
    if (Date.now() - started > timeoutMs) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/**
 * How many commands Redis ran while `action` ran, by Redis' own count (INFO
 * commandstats; commands a script calls count too), less the INFO that reads it
 * and the socket.io adapter's stream traffic, and the presenter's presence note.
 * Nothing else may touch the pools meanwhile (turn the reaper's sweep off).
 */
export async function redisCommandsDuring(redis: Redis, action: () => Promise<unknown>): Promise<{ total: number; by: Record<string, number> }> {
  // Not the request's: reading the count, the socket.io adapter's stream (its polling XREAD, a broadcast's XADD),
  // and connection housekeeping (a subscriber or the adapter's client connecting late, pings).
  const IGNORED = new Set(['info', 'xread', 'xadd', 'xtrim', 'publish', 'auth', 'hello', 'subscribe', 'ping', 'client', 'select']);
  const read = async () => {
    const calls: Record<string, number> = {};
    for (const match of (await redis.info('commandstats')).matchAll(/^cmdstat_([^:]+):calls=(\d+)/gm)) {
      if (!IGNORED.has(match[1]!)) calls[match[1]!] = Number(match[2]);
    }
    return calls;
  };
  // Quiet first: a change just made is still being pushed to viewers (one snapshot read per change).
  let before = await read();
  for (let i = 0; i < 20; i++) {
    await new Promise((resolve) => setTimeout(resolve, 25));
    const now = await read();
    if (JSON.stringify(now) === JSON.stringify(before)) break;
    before = now;
  }
  // The presenter's presence note (a SET on a presenter request, at most every 15 s) is the server's, not the request's.
  const presenceBefore = await redis.get(PRESENTER_SEEN_KEY);
  before = await read();
  await action();
  const after = await read();
  if ((await redis.get(PRESENTER_SEEN_KEY)) !== presenceBefore) after.set = (after.set ?? 0) - 1;
  const by: Record<string, number> = Object.fromEntries(Object.entries(after).map(([name, calls]) => [name, calls - (before[name] ?? 0)]).filter(([, n]) => n !== 0));
  return { total: Object.values(by).reduce((a, b) => a + b, 0), by };
}
