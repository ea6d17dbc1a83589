/**
 * The live side of the pools: viewers watch a pool (a socket.io room), act on it
 * when the presenter opened the Lua panel (within the viewer session's limits),
 * and every change is pushed to everyone watching.
 * One message per change per tick: the snapshot, the clicks that made it and the
 * double releases detected on the way travel together (`pool:changed`), so a
 * burst costs one read of Redis and one broadcast, not one per viewer, per step
 * or per kind of news. A big hall is written to shard by shard (shardedRoom.ts),
 * and what happens meanwhile goes into the next message. The acting viewer
 * is answered first; the hall hears of it on the next tick.
 *
 * A change goes to this instance's viewers directly, not through the cluster
 * adapter: the adapter would append each message to the shared stream and wait
 * for Redis to answer before writing a single socket (so that a reconnecting phone
 * could be replayed what it missed), once per shard. A pool:changed carries the
 * whole pool, so a phone that missed one needs only the next, or the snapshot
 * its panel reads again whenever it reconnects. The other instances get one relay
 * per change (poolRelay.ts), sent without waiting, and write it to their own
 * viewers the same way.
 */
import type { Server, Socket } from 'socket.io';
import type { z } from 'zod';
import {
  AllocateRequest,
  ReleaseRequest,
  ResetRequest,
  WatchRequest,
  type ClientToServerEvents,
  type DoubleReleaseWarning,
  type PoolAction,
  type PoolChange,
  type ServerToClientEvents,
} from '../protocol.ts';
import { onRequest, type Access } from './requests.ts';
import { ShardedRooms } from './shardedRoom.ts';
import type { PoolRelay } from './poolRelay.ts';
import type { Logger } from '../log.ts';
import type { PoolActions } from '../pool/poolActions.ts';
import type { Gate } from '../hall/gate.ts';
import { LUA_PANEL } from '../hall/audiencePanels.ts';

export type IoServer = Server<ClientToServerEvents, ServerToClientEvents>;
export type IoSocket = Socket<ClientToServerEvents, ServerToClientEvents>;

export const poolRoom = (pool: string) => `pool:${pool}`;

export interface PoolChannel {
  destroy(): void;
}

export function createPoolChannel(io: IoServer, actions: PoolActions, gate: Gate, relay: PoolRelay, log: Logger): PoolChannel {
  const rooms = new ShardedRooms(io);
  // Per pool, what happened since the last message; a pool is in the map while a message is due.
  const due = new Map<string, Pick<PoolChange, 'actions' | 'doubleReleases'>>();
  const flush = (pool: string) => {
    // While a big hall is still being written to, news keeps gathering: it goes in the next message.
    const idle = rooms.whenIdle(poolRoom(pool));
    if (idle) {
      void idle.then(() => flush(pool));
      return;
    }
    const burst = due.get(pool);
    if (!burst) return;
    due.delete(pool);
    actions.pools.snapshot(pool).then(
      (snapshot) => {
        const change: PoolChange = { ...snapshot, ...burst };
        rooms.emit(poolRoom(pool), 'pool:changed', change);
        relay.send(change);
      },
      (error: unknown) => log.warn('could not read pool for viewers', { pool, error: String(error) }),
    );
  };
  // Another instance's change, for the viewers here.
  const stopRelayed = relay.onChange((change) => rooms.emit(poolRoom(change.pool), 'pool:changed', change));
  const publish = (pool: string, news: { action?: PoolAction; warning?: DoubleReleaseWarning } = {}) => {
    let pending = due.get(pool);
    if (!pending) {
      pending = { actions: [], doubleReleases: [] };
      due.set(pool, pending);
      // On the next turn of the event loop, so the acting client's Ack (resolved in this
      // turn) is written first. Reads on one connection come back in order, so messages do too.
      setImmediate(() => flush(pool));
    }
    if (news.action) pending.actions.push(news.action);
    if (news.warning) pending.doubleReleases.push(news.warning);
  };
  const onChanged = (pool: string) => publish(pool);
  const onActed = (action: PoolAction) => publish(action.pool, { action });
  const onDoubleRelease = (warning: DoubleReleaseWarning) => publish(warning.pool, { warning });

  actions.pools.on('changed', onChanged);
  actions.pools.on('double-release', onDoubleRelease);
  actions.on('acted', onActed);

  io.on('connection', (socket: IoSocket) => {
    const on = <R, T>(event: keyof ClientToServerEvents, schema: z.ZodType<R>, access: Access<R>, handler: (request: R) => Promise<T>) =>
      onRequest(socket, { gate, log }, event, schema, { access }, handler);
    // Viewers act on the Lua slide's pool only (resolvePool refuses the others).
    const luaPanel = () => LUA_PANEL;

    on('pool:watch', WatchRequest, 'anyone', async ({ pool }) => {
      const name = actions.resolvePool(pool);
      await rooms.join(socket, poolRoom(name));
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
      actions.pools.off('changed', onChanged);
      actions.pools.off('double-release', onDoubleRelease);
      actions.off('acted', onActed);
      stopRelayed();
    },
  };
}
