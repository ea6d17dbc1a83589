/**
 * The live side of the pools: viewers watch a pool (a socket.io room), act on it
 * under a per-viewer rate limit, and every change is pushed to everyone watching.
 * One message per change per tick: the snapshot and the clicks that made it
 * travel together (`pool:changed`), so a burst costs one read of Redis and one
 * broadcast, not one per viewer, per step or per kind of news. The acting viewer
 * is answered first; the hall hears of it on the next tick.
 */
import type { Server, Socket } from 'socket.io';
import type { z } from 'zod';
import {
  AllocateRequest,
  ReleaseRequest,
  WatchRequest,
  type ClientToServerEvents,
  type PoolAction,
  type PoolChange,
  type ServerToClientEvents,
} from '../protocol.ts';
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
  // Per pool, the clicks since the last message; a pool is in the map while a message is due.
  const due = new Map<string, PoolAction[]>();
  const publish = (pool: string, action?: PoolAction) => {
    const clicks = due.get(pool);
    if (clicks) {
      if (action) clicks.push(action);
      return;
    }
    due.set(pool, action ? [action] : []);
    // On the next turn of the event loop: the acting client's Ack is written first (it
    // resolves in this turn), then one snapshot read and one broadcast for the whole burst.
    // A click landing while the read is on its way schedules the next message (reads on
    // one connection come back in order, so messages do too).
    setImmediate(() => {
      const burst = due.get(pool) ?? [];
      due.delete(pool);
      actions.pools.snapshot(pool).then(
        (snapshot) => io.to(poolRoom(pool)).emit('pool:changed', { ...snapshot, actions: burst } satisfies PoolChange),
        (error: unknown) => log.warn('could not read pool for viewers', { pool, error: String(error) }),
      );
    });
  };
  const onChanged = (pool: string) => publish(pool);
  const onActed = (action: PoolAction) => publish(action.pool, action);
  const onDoubleRelease = (warning: Parameters<ServerToClientEvents['release:double-detected']>[0]) =>
    io.to(poolRoom(warning.pool)).emit('release:double-detected', warning);

  actions.pools.on('changed', onChanged);
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
      actions.pools.off('changed', onChanged);
      actions.pools.off('double-release', onDoubleRelease);
      actions.off('acted', onActed);
    },
  };
}
