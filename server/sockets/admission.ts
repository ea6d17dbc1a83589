/**
 * Who may open a socket, and how much one socket may say, decided before any
 * event handler (or schema) sees it:
 *  - the handshake's Origin must be the site's own (the Host it was reached at) or
 *    one configured: CORS does not apply to websockets, so without this any page
 *    on the web could open a socket with a visitor's cookie;
 *  - handshakes are capped per second for the whole server;
 *  - each socket has a budget of events per second; an event over it is refused
 *    unread (`rate_limited`), and a socket ten times over is disconnected.
 */
import type { IncomingMessage } from 'node:http';
import type { Socket } from 'socket.io';
import type { Logger } from '../log.ts';
import { RateLimiter } from '../rateLimit.ts';
import type { IoServer } from './poolChannel.ts';

export interface AdmissionOptions {
  allowedOrigins: string[];
  handshakesPerSecond: number;
  socketEventsPerSecond: number;
  log: Logger;
}

/** Whether a page of `origin` may open a socket to a server reached as `host`. */
export function originAllowed(origin: string | undefined, host: string | undefined, allowed: readonly string[]): boolean {
  // Not a browser (a browser always sends Origin on a cross-origin or websocket request): nothing to protect.
  if (origin === undefined) return true;
  if (allowed.includes(origin)) return true;
  try {
    return host !== undefined && new URL(origin).host === host;
  } catch {
    return false;
  }
}

/** socket.io's `allowRequest`: called for each new connection's handshake. */
export function admitHandshake(options: AdmissionOptions): (req: IncomingMessage, callback: (err: string | null | undefined, success: boolean) => void) => void {
  const handshakes = new RateLimiter(options.handshakesPerSecond, options.handshakesPerSecond * 2);
  let refusedOrigins = 0;
  return (req, callback) => {
    if (!originAllowed(req.headers.origin, req.headers.host, options.allowedOrigins)) {
      if (refusedOrigins++ % 1000 === 0) options.log.warn('socket refused: origin not allowed', { origin: req.headers.origin, refused: refusedOrigins });
      callback('origin not allowed', false);
      return;
    }
    if (!handshakes.take('all')) {
      callback('too many connections: try again in a moment', false);
      return;
    }
    callback(null, true);
  };
}

const DISCONNECT_AFTER_REFUSED = 10;

/** Per-socket event budget, checked before the event's handler runs (its payload unread). */
export function limitSocketEvents(io: IoServer, options: AdmissionOptions): () => void {
  const perSecond = options.socketEventsPerSecond;
  const budget = new RateLimiter(perSecond, perSecond * 2);
  // Refusals, themselves a bucket: a socket refused more than ten seconds' worth of events in a burst is cut off.
  const refusals = new RateLimiter(perSecond, perSecond * DISCONNECT_AFTER_REFUSED);
  let disconnected = 0;
  const onConnection = (socket: Socket) => {
    socket.use((packet, next) => {
      if (budget.take(socket.id)) return next();
      const ack = packet.at(-1);
      if (typeof ack === 'function') (ack as (reply: unknown) => void)({ ok: false, error: 'rate_limited', message: 'too many events from this socket: slow down' });
      if (!refusals.take(socket.id)) {
        if (disconnected++ % 100 === 0) options.log.warn('socket disconnected: far over its event rate', { disconnected });
        socket.disconnect(true);
      }
    });
    socket.once('disconnect', () => {
      budget.forget(socket.id);
      refusals.forget(socket.id);
    });
  };
  io.on('connection', onConnection);
  return () => io.off('connection', onConnection);
}
