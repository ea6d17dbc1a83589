/**
 * Several server instances behind one load balancer, sharing one Redis: socket.io's
 * Redis Streams adapter carries every broadcast to the viewers of all instances (a
 * click on one reaches phones on the others), and, because a stream keeps what it
 * carried, a phone that drops for a moment gets back what it missed when it
 * reconnects (connection state recovery), on whichever instance it lands.
 */
import type { Redis } from 'ioredis';
import type { ServerOptions } from 'socket.io';
import { createAdapter } from '@socket.io/redis-streams-adapter';
import type { Logger } from '../log.ts';

/** How long a dropped phone's rooms and missed messages are kept for it. */
const RECOVERY_WINDOW_MS = 2 * 60_000;

export interface ClusterSockets {
  options: Partial<ServerOptions>;
  close(): Promise<void>;
}

export async function clusterSockets(redis: Redis, log: Logger): Promise<ClusterSockets> {
  // Its own connection: the adapter's writes (one XADD per broadcast) never queue behind pool scripts.
  const client = redis.duplicate();
  client.on('error', (error) => log.warn('socket.io adapter redis error', { error: error.message }));
  // The adapter duplicates this connection for its stream reader and its subscriber, and
  // stops the reader only once its blocking read returns: with Redis gone at that moment,
  // the read never returns and the reader reconnects for ever, keeping the process up.
  // So its duplicates are made from the app's connection (they follow a restarted
  // private Redis' password, as every duplicate of it does) and cut at close.
  const made: Redis[] = [];
  client.duplicate = (...args: Parameters<Redis['duplicate']>) => {
    const copy = redis.duplicate(...args);
    copy.on('error', (error) => log.warn('socket.io adapter redis error', { error: error.message }));
    made.push(copy);
    return copy;
  };
  await client.connect().catch(() => {});
  return {
    options: {
      adapter: createAdapter(client, {
        streamName: 'idem:socket.io',
        channelPrefix: 'idem:socket.io',
        sessionKeyPrefix: 'idem:socket.io:session:',
        // Short blocking reads, so a closing server lets go of Redis promptly.
        blockTimeInMs: 1000,
        maxLen: 10_000,
      }),
      connectionStateRecovery: { maxDisconnectionDuration: RECOVERY_WINDOW_MS, skipMiddlewares: true },
    },
    async close() {
      for (const copy of made) copy.disconnect();
      await client.quit().catch(() => client.disconnect());
    },
  };
}
