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
      await client.quit().catch(() => client.disconnect());
    },
  };
}
