/**
 * Pool changes between server instances: one Redis PUBLISH per change, which
 * every other instance writes to its own viewers (server/sockets/poolChannel.ts).
 *
 * Not socket.io's cluster adapter: a broadcast through it waits for its stream
 * append before writing a single local socket, and its serverSideEmit drops the
 * promise of its PUBLISH, so a Redis that goes away mid-publish becomes an
 * unhandled rejection. Here every failure is caught and logged; a change that
 * could not be relayed is followed by the next, which carries the whole pool.
 */
import { randomBytes } from 'node:crypto';
import type { Redis } from 'ioredis';
import type { Logger } from '../log.ts';
import type { PoolChange } from '../protocol.ts';

/** A pub/sub channel, not a key: it belongs to no slot, and every cluster node passes it on. */
export const POOL_RELAY_CHANNEL = 'idem:pools:changed';

export interface PoolRelay {
  /** Tells the other instances; never throws, never waits. */
  send(change: PoolChange): void;
  /** Another instance's change; returns the unsubscribe. */
  onChange(handler: (change: PoolChange) => void): () => void;
  close(): Promise<void>;
}

export async function createPoolRelay(redis: Redis, log: Logger): Promise<PoolRelay> {
  const from = randomBytes(8).toString('hex');
  const handlers = new Set<(change: PoolChange) => void>();
  // Its own connection: a subscribed connection can do nothing else. A duplicate, so it
  // follows the private Redis' password across restarts and resubscribes by itself.
  const subscriber = redis.duplicate();
  subscriber.on('error', (error) => log.warn('pool relay redis error', { error: error.message }));
  subscriber.on('message', (channel: string, text: string) => {
    if (channel !== POOL_RELAY_CHANNEL) return;
    let message: { from?: unknown; change?: { pool?: unknown } };
    try {
      message = JSON.parse(text) as typeof message;
    } catch {
      log.warn('pool relay: a message that is not JSON, ignored', { length: text.length });
      return;
    }
    if (message.from === from) return;
    if (typeof message.change?.pool !== 'string') {
      log.warn('pool relay: a message without a pool, ignored', {});
      return;
    }
    for (const handler of handlers) handler(message.change as PoolChange);
  });
  await subscriber.subscribe(POOL_RELAY_CHANNEL).catch((error: Error) => log.warn('pool relay: cannot subscribe yet', { error: error.message }));
  return {
    send(change) {
      redis.publish(POOL_RELAY_CHANNEL, JSON.stringify({ from, change })).catch((error: Error) =>
        log.warn('pool relay: change not sent to the other instances', { pool: change.pool, error: error.message }),
      );
    },
    onChange(handler) {
      handlers.add(handler);
      return () => handlers.delete(handler);
    },
    async close() {
      handlers.clear();
      // Nothing to flush on a subscriber; a QUIT would wait for a Redis that may be gone.
      subscriber.disconnect();
    },
  };
}
