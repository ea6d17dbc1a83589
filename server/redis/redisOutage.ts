/**
 * What the server does when its Redis goes away and comes back. Down: every
 * viewer is told (`redis:state`), and the run playing is marked failed (its steps
 * went nowhere). Back (ioredis reconnected, to the same or a restarted Redis):
 * the pools are rebuilt to a sound state, expiry notifications switched on again
 * (a restarted Redis forgot them), the task runtime reconnected, and only then
 * are viewers told, with a fresh snapshot of every pool.
 */
import type { Redis } from 'ioredis';
import type { Logger } from '../log.ts';
import type { RedisState } from '../protocol.ts';
import type { ExecutorPools } from '../pool/executorPool.ts';
import { checkInvariant } from '../pool/invariant.ts';
import type { IoServer } from '../sockets/poolChannel.ts';

export interface RedisOutageDeps {
  redis: Redis;
  pools: ExecutorPools;
  poolNames: () => Iterable<string>;
  io: IoServer;
  log: Logger;
  /** Writes back what this instance holds that Redis may have lost (the deck, the presenter's last sign of life). */
  restoreState(): Promise<void>;
  /** Marks the run playing as failed, saying why. */
  failRunInFlight(reason: string): void;
  /** Everything else that must be redone on a new connection: notifications, the task runtime. */
  reconnect(): Promise<void>;
}

export interface RedisOutageWatch {
  readonly available: boolean;
  /** Resolves once Redis is back and everything is rebuilt (at once when it is up). */
  whenAvailable(): Promise<void>;
  destroy(): void;
}

/**
 * A pool as it must be after an outage: its token counter no lower than the highest token
 * known, made if it was lost, lost executors reclaimed, reset if still unsound.
 */
export async function rebuildPool(pools: ExecutorPools, pool: string, log: Logger): Promise<void> {
  await pools.raiseTokenCounter(pool);
  await pools.ensure(pool);
  await pools.reclaim(pool, 'sweep');
  const verdict = checkInvariant(await pools.snapshot(pool));
  if (!verdict.sound) {
    log.warn('pool unsound after the outage: reset', { pool, problems: verdict.problems });
    await pools.reset(pool);
  }
}

export function watchRedisOutages(deps: RedisOutageDeps): RedisOutageWatch {
  const { redis, io, log } = deps;
  let available = true;
  let recovering: Promise<void> | null = null;
  let waiters: (() => void)[] = [];
  const state = (): RedisState => ({ redis: available ? 'ok' : 'unavailable', at: Date.now() });

  const onClose = () => {
    if (!available) return;
    available = false;
    log.error('Redis is unavailable', {});
    io.emit('redis:state', state());
    deps.failRunInFlight('Redis became unavailable during the run');
  };
  const recover = async () => {
    await deps.restoreState();
    for (const pool of deps.poolNames()) await rebuildPool(deps.pools, pool, log);
    await deps.reconnect();
  };
  const onReady = () => {
    if (available || recovering) return;
    recovering = recover().then(
      () => {
        recovering = null;
        available = true;
        log.info('Redis is back: pools rebuilt, notifications on', {});
        io.emit('redis:state', state());
        for (const pool of deps.poolNames()) deps.pools.emit('changed', pool);
        for (const resolve of waiters.splice(0)) resolve();
      },
      (error: unknown) => {
        recovering = null;
        log.error('recovery after the outage failed; retrying on the next reconnect', { error: String(error) });
        // Still connected? Then try again shortly rather than waiting for a reconnect that may not come.
        setTimeout(() => redis.status === 'ready' && onReady(), 1000).unref();
      },
    );
  };
  const onConnection = (socket: { emit(event: 'redis:state', state: RedisState): void }) => {
    if (!available) socket.emit('redis:state', state());
  };
  redis.on('close', onClose);
  redis.on('ready', onReady);
  io.on('connection', onConnection);

  return {
    get available() {
      return available;
    },
    whenAvailable() {
      return available ? Promise.resolve() : new Promise<void>((resolve) => waiters.push(resolve));
    },
    destroy() {
      redis.off('close', onClose);
      redis.off('ready', onReady);
      io.off('connection', onConnection);
      for (const resolve of waiters.splice(0)) resolve();
      waiters = [];
    },
  };
}
