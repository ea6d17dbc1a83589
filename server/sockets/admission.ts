/**
 * Who may open a socket, and how much one socket may say, decided before any
 * event handler (or schema) sees it:
 *  - the handshake's Origin must be the site's own (the Host it was reached at) or
 *    one configured: CORS does not apply to websockets, so without this any page
 *    on the web could open a socket with a visitor's cookie;
 *  - handshakes are capped per second for the whole server;
 *  - each socket, and each client (its session, or its address without one) over
 *    all its sockets, has a budget of events per second; an event over either is
 *    refused unread (`rate_limited`). A client ten times over its budget is cut
 *    off: all its sockets disconnected and its handshakes refused for a while, so
 *    one client's flood costs the server a refused handshake, not an event loop.
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
  /** Who is behind a request (its session's limit key): the unit a flood is cut off by. */
  clientOf(req: IncomingMessage): string;
  log: Logger;
}

/** How long a client cut off for flooding cannot open a socket again. */
const BAN_MS = 10_000;
/** A client's budget, all its sockets together, in socket budgets (a presenter has a few tabs open). */
const CLIENT_SOCKETS = 5;

/** Clients cut off for flooding, until when. Shared by the handshake check and the event budget. */
export class Bans {
  private readonly until = new Map<string, number>();
  ban(client: string): void {
    this.until.set(client, Date.now() + BAN_MS);
  }
  banned(client: string): boolean {
    const until = this.until.get(client);
    if (until === undefined) return false;
    if (until > Date.now()) return true;
    this.until.delete(client);
    return false;
  }
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
export function admitHandshake(options: AdmissionOptions, bans: Bans): (req: IncomingMessage, callback: (err: string | null | undefined, success: boolean) => void) => void {
  const handshakes = new RateLimiter(options.handshakesPerSecond, options.handshakesPerSecond * 2);
  let refusedOrigins = 0;
  return (req, callback) => {
    if (!originAllowed(req.headers.origin, req.headers.host, options.allowedOrigins)) {
      if (refusedOrigins++ % 1000 === 0) options.log.warn('socket refused: origin not allowed', { origin: req.headers.origin, refused: refusedOrigins });
      callback('origin not allowed', false);
      return;
    }
    if (bans.banned(options.clientOf(req))) {
      callback('cut off for flooding: try again later', false);
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
export function limitSocketEvents(io: IoServer, options: AdmissionOptions, bans: Bans): () => void {
  const perSecond = options.socketEventsPerSecond;
  const budget = new RateLimiter(perSecond, perSecond * 2);
  const clientBudget = new RateLimiter(perSecond * CLIENT_SOCKETS, perSecond * CLIENT_SOCKETS * 2);
  // Refusals, themselves a bucket: a socket (or client) refused ten seconds' worth of its events in a burst is cut off.
  const refusals = new RateLimiter(perSecond, perSecond * DISCONNECT_AFTER_REFUSED);
  const clientRefusals = new RateLimiter(perSecond * CLIENT_SOCKETS, perSecond * CLIENT_SOCKETS * DISCONNECT_AFTER_REFUSED);
  const socketsOf = new Map<string, Set<Socket>>();
  let disconnected = 0;
  const cutOff = (client: string) => {
    bans.ban(client);
    const sockets = [...(socketsOf.get(client) ?? [])];
    options.log.warn('client cut off: far over its event rate', { client: client.slice(0, 16), sockets: sockets.length, forMs: BAN_MS });
    for (const socket of sockets) socket.disconnect(true);
  };
  const onConnection = (socket: Socket) => {
    const client = options.clientOf(socket.request);
    const mine = socketsOf.get(client) ?? new Set<Socket>();
    mine.add(socket);
    socketsOf.set(client, mine);
    socket.use((packet, next) => {
      if (budget.take(socket.id) && clientBudget.take(client)) return next();
      const ack = packet.at(-1);
      if (typeof ack === 'function') (ack as (reply: unknown) => void)({ ok: false, error: 'rate_limited', message: 'too many events: slow down' });
      if (!clientRefusals.take(client)) return cutOff(client);
      if (!refusals.take(socket.id)) {
        if (disconnected++ % 100 === 0) options.log.warn('socket disconnected: far over its event rate', { disconnected });
        socket.disconnect(true);
      }
    });
    socket.once('disconnect', () => {
      budget.forget(socket.id);
      refusals.forget(socket.id);
      mine.delete(socket);
      if (mine.size === 0) socketsOf.delete(client);
    });
  };
  io.on('connection', onConnection);
  return () => io.off('connection', onConnection);
}
