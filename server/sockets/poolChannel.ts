/**
 * The live side of the pools: viewers watch a pool (a socket.io room), act on it
 * when the presenter opened the Lua panel (within the viewer session's limits), and every change is pushed to everyone watching.
 * Bursts of changes are coalesced into one snapshot per pool per tick, so a
 * double release costs one read of Redis, not one per viewer or per step.
 */
import type { Server, Socket } from 'socket.io';
import type { z } from 'zod';
import { AllocateRequest, ReleaseRequest, ResetRequest, WatchRequest, type ClientToServerEvents, type ServerToClientEvents } from '../protocol.ts';
import { onRequest, type Access } from './requests.ts';
import type { Logger } from '../log.ts';
import type { PoolActions } from '../pool/poolActions.ts';
import type { Gate } from '../hall/gate.ts';
import { LUA_PANEL } from '../hall/audiencePanels.ts';

export type IoServer = Server<ClientToServerEvents, ServerToClientEvents>;
type IoSocket = Socket<ClientToServerEvents, ServerToClientEvents>;

export const poolRoom = (pool: string) => `pool:${pool}`;

export interface PoolChannel {
  destroy(): void;
}

export function createPoolChannel(io: IoServer, actions: PoolActions, gate: Gate, log: Logger): PoolChannel {
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
    const on = <R, T>(event: keyof ClientToServerEvents, schema: z.ZodType<R>, access: Access<R>, handler: (request: R) => Promise<T>) =>
      onRequest(socket, { gate, log }, event, schema, { access }, handler);
    // Viewers act on the Lua slide's pool only (resolvePool refuses the others).
    const luaPanel = () => LUA_PANEL;

    on('pool:watch', WatchRequest, 'anyone', async ({ pool }) => {
      const name = actions.resolvePool(pool);
      await socket.join(poolRoom(name));
      return actions.pools.snapshot(name);
    });
    on('pool:allocate', AllocateRequest, luaPanel, (request) => actions.allocate(request));
    on('pool:release', ReleaseRequest, luaPanel, (request) => actions.release(request));
    on('pool:double-release', ReleaseRequest, luaPanel, (request) => actions.doubleRelease(request));
    on('pool:reset', ResetRequest, 'presenter', async (request) => {
      await actions.reset(request);
      return actions.pools.snapshot(actions.resolvePool(request.pool));
    });
  });

  return {
    destroy() {
      actions.pools.off('changed', publish);
      actions.pools.off('double-release', onDoubleRelease);
      actions.off('acted', onActed);
    },
  };
}
