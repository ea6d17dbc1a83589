/**
 * The chaos round over socket.io: `chaos:watch` joins the round's watchers (and
 * answers with the viewer's role and the latest round), `chaos:tap` is a tap.
 * The state goes out as `chaos:changed`, one message per tick to the room.
 */
import { ChaosTapRequest, EmptyRequest } from '../protocol.ts';
import type { Gate } from '../hall/gate.ts';
import type { Logger } from '../log.ts';
import type { IoServer, IoSocket } from '../sockets/poolChannel.ts';
import { onRequest } from '../sockets/requests.ts';
import type { ChaosRounds } from './chaosRounds.ts';

export const CHAOS_ROOM = 'chaos';

export function createChaosChannel(io: IoServer, rounds: ChaosRounds, gate: Gate, log: Logger): { destroy(): void } {
  const deps = { gate, log };
  const onConnection = (socket: IoSocket) => {
    onRequest(socket, deps, 'chaos:watch', EmptyRequest, { access: 'anyone' }, async (_request, viewer) => {
      await socket.join(CHAOS_ROOM);
      return { role: gate.isPresenter(viewer) ? 'presenter' as const : 'viewer' as const, round: rounds.latest() };
    });
    // Anyone may tap; the round being open and the limits are checked by the rounds themselves.
    onRequest(socket, deps, 'chaos:tap', ChaosTapRequest, { access: 'anyone' }, (request, viewer) =>
      rounds.tap(viewer, request.roundId, request.hold),
    );
  };
  io.on('connection', onConnection);
  return { destroy: () => void io.off('connection', onConnection) };
}
