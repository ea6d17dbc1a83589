/**
 * The hall, live: every page joins the `hall` room and gets the deck state at
 * once (a late joiner or a reconnecting phone lands where the presenter is), then
 * one small `deck:changed` per change. Presenter windows move the deck, open and
 * close panels, pick faults and reset; the last window to act drives, and the
 * one it took over from is told. Viewers only say whether they follow, which the
 * console counts.
 */
import type { Socket } from 'socket.io';
import { DeckMoveRequest, EmptyRequest, FollowReport, PanelOpenRequest, PickFaultRequest, PickRuntimeRequest, type FiringCounts, type HallConsole } from '../protocol.ts';
import type { Hall } from '../hall/hall.ts';
import type { Logger } from '../log.ts';
import type { PoolActions } from '../pool/poolActions.ts';
import { onRequest } from './requests.ts';
import type { IoServer } from './poolChannel.ts';

const HALL_ROOM = 'hall';
/** How often the "N firing" counts are looked at; sent only when they changed. */
const FIRING_TICK_MS = 1000;

interface Member {
  session: string;
  presenter: boolean;
  following: boolean;
  h: number;
  v: number;
}

export interface HallChannelOptions {
  hall: Hall;
  actions: PoolActions;
  poolNames: () => Iterable<string>;
  log: Logger;
}

export function createHallChannel(io: IoServer, { hall, actions, poolNames, log }: HallChannelOptions): { destroy(): void } {
  const members = new Map<string, Member>();
  let driver: string | null = null;

  // Each instance tells its own sockets: a change made on another instance reaches this one's deck through Redis.
  const onChanged = (state: Parameters<typeof hall.deck.emit<'changed'>>[1]) => io.local.to(HALL_ROOM).emit('deck:changed', state);
  hall.deck.on('changed', onChanged);

  let lastFiring = '{}';
  const firingTimer = setInterval(() => {
    const firing = hall.activity.firing();
    const text = JSON.stringify(firing);
    if (text === lastFiring) return;
    lastFiring = text;
    io.to(HALL_ROOM).emit('hall:firing', firing);
  }, FIRING_TICK_MS).unref();

  /** A presenter window acts: it drives from now on, and the window that drove before hears so. */
  const takeOver = (socket: Socket) => {
    if (driver && driver !== socket.id) io.to(driver).emit('hall:superseded', { at: Date.now() });
    driver = socket.id;
  };

  const consoleNumbers = async (): Promise<HallConsole> => {
    const viewers = [...members.values()].filter((member) => !member.presenter);
    const away = new Map<string, { h: number; v: number; viewers: number }>();
    for (const member of viewers) {
      if (member.following) continue;
      const key = `${member.h}/${member.v}`;
      const slot = away.get(key) ?? { h: member.h, v: member.v, viewers: 0 };
      slot.viewers += 1;
      away.set(key, slot);
    }
    const pools = await Promise.all([...poolNames()].map((pool) => actions.pools.snapshot(pool)));
    return {
      viewers: viewers.length,
      sessions: new Set(viewers.map((member) => member.session)).size,
      following: viewers.filter((member) => member.following).length,
      awayBySlide: [...away.values()].sort((a, b) => a.h - b.h || a.v - b.v),
      triggersLastMinute: hall.activity.triggersLastMinute(),
      firing: hall.activity.firing() satisfies FiringCounts,
      pools,
      join: hall.join,
      warnings: hall.warnings(),
      state: hall.deck.state,
      presenterIdleSeconds: hall.presence.idleSeconds,
    };
  };

  io.on('connection', (socket) => {
    const deps = { gate: hall.gate, log };

    onRequest(socket, deps, 'hall:join', EmptyRequest, { access: 'anyone' }, async (_request, viewer) => {
      await socket.join(HALL_ROOM);
      const presenter = hall.gate.isPresenter(viewer);
      // A presenter window in the hall keeps the talk live while it stays (counted once per socket).
      if (presenter && !members.get(socket.id)?.presenter) hall.presence.joined();
      members.set(socket.id, { session: viewer.id, presenter, following: !presenter, h: hall.deck.state.h, v: hall.deck.state.v });
      return { role: presenter ? 'presenter' : 'viewer', state: hall.deck.state, firing: hall.activity.firing() } as const;
    });
    onRequest(socket, deps, 'hall:follow', FollowReport, { access: 'anyone' }, ({ following, h, v }) => {
      const member = members.get(socket.id);
      if (member) Object.assign(member, { following, h, v });
      return null;
    });

    onRequest(socket, deps, 'deck:move', DeckMoveRequest, { access: 'presenter' }, (position) => {
      takeOver(socket);
      return hall.deck.move(position);
    });
    onRequest(socket, deps, 'panel:open', PanelOpenRequest, { access: 'presenter' }, ({ panel, open }) => {
      takeOver(socket);
      return hall.deck.setOpen(panel, open);
    });
    onRequest(socket, deps, 'panel:pick-fault', PickFaultRequest, { access: 'presenter' }, ({ panel, fault }) => {
      takeOver(socket);
      return hall.deck.pickFault(panel, fault);
    });
    onRequest(socket, deps, 'panel:pick-runtime', PickRuntimeRequest, { access: 'presenter' }, ({ panel, runtime }) => {
      takeOver(socket);
      return hall.deck.pickRuntime(panel, runtime);
    });
    onRequest(socket, deps, 'hall:reset-everything', EmptyRequest, { access: 'presenter' }, async () => {
      takeOver(socket);
      await hall.resetEverything(actions, poolNames());
      log.info('hall reset: pools, panels and counters');
      return hall.deck.state;
    });
    onRequest(socket, deps, 'hall:console', EmptyRequest, { access: 'presenter' }, consoleNumbers);

    socket.on('disconnect', () => {
      if (members.get(socket.id)?.presenter) hall.presence.left();
      members.delete(socket.id);
      if (driver === socket.id) driver = null;
    });
  });

  return {
    destroy() {
      hall.deck.off('changed', onChanged);
      clearInterval(firingTimer);
    },
  };
}
