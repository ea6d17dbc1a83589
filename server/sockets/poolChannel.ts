/**
 * The live side of the pools: viewers watch a pool (a socket.io room), act on it
 * under a per-viewer rate limit, and every change is pushed to everyone watching.
 * Bursts of changes are coalesced into one snapshot per pool per tick, so a
 * double release costs one read of Redis, not one per viewer or per step.
 */
import type { Server, Socket } from 'socket.io';
import type { z } from 'zod';
import { AllocateRequest, ReleaseRequest, WatchRequest, type ClientToServerEvents, type ServerToClientEvents } from '../protocol.ts';
import { onRequest } from './requests.ts';
import type { Logger } from '../log.ts';
import type { PoolActions } from '../pool/poolActions.ts';
import type { RateLimiter } from '../rateLimit.ts';

export type IoServer = Server<ClientToServerEvents, ServerToClientEvents>;
type IoSocket = Socket<ClientToServerEvents, ServerToClientEvents>;

export const poolRoom = (pool: string) => `pool:${pool}`;

export interface PoolChannel {
  destroy(): void;
}

export function createPoolChannel(io: IoServer, actions: PoolActions, viewerLimiter: RateLimiter, log: Logger): PoolChannel {
  const pending = new Set<string>();
  const publish = (pool: string) => {
    if (pending.has(pool)) return;
    pending.add(pool);
    setImmediate(() => {
      pending.delete(pool);
      actions.pools.snapshot(pool).then(
        (snapshot) => io.to(poolRoom(pool)).emit('pool:changed', snapshot),
        (error: unknown) => log.warn('could not read pool for viewers', { pool, error: String(error) }),
      );
    });
  };
  const onActed = (action: Parameters<ServerToClientEvents['pool:acted']>[0]) => io.to(poolRoom(action.pool)).emit('pool:acted', action);
  const onDoubleRelease = (warning: Parameters<ServerToClientEvents['release:double-detected']>[0]) =>
    io.to(poolRoom(warning.pool)).emit('release:double-detected', warning);

  actions.pools.on('changed', publish);
  actions.pools.on('double-release', onDoubleRelease);
  actions.on('acted', onActed);

  io.on('connection', (socket: IoSocket) => {
    const on = <R, T>(event: keyof ClientToServerEvents, schema: z.ZodType<R>, limited: boolean, handler: (request: R) => Promise<T>) =>
      onRequest(socket, { viewerLimiter, log }, event, schema, { limited }, handler);

    on('pool:watch', WatchRequest, false, async ({ pool }) => {
      const name = actions.resolvePool(pool);
      await socket.join(poolRoom(name));
      return actions.pools.snapshot(name);
    });
    on('pool:allocate', AllocateRequest, true, (request) => actions.allocate(request));
    on('pool:release', ReleaseRequest, true, (request) => actions.release(request));
    on('pool:double-release', ReleaseRequest, true, (request) => actions.doubleRelease(request));
    socket.on('disconnect', () => viewerLimiter.forget(`socket:${socket.id}`));
  });

  return {
    destroy() {
      actions.pools.off('changed', publish);
      actions.pools.off('double-release', onDoubleRelease);
      actions.off('acted', onActed);
    },
  };
}
