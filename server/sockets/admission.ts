/**
 * Who may open a socket, and how much one socket may say, decided before any
 * event handler (or schema) sees it. Each kind of client has a lane of its own, so
 * no flood in one lane keeps anyone in another out:
 *  - the handshake's Origin must be the site's own (the Host it was reached at) or
 *    one configured: CORS does not apply to websockets, so without this any page
 *    on the web could open a socket with a visitor's cookie;
 *  - the presenter (a presenter cookie or the bearer secret) is always let in, and
 *    its events are never counted: the stage belongs to the presenter;
 *  - a client that shows back a session cookie the server signed (a phone that was
 *    here, reconnecting) has a handshake budget of its own: one client flooding
 *    handshakes, with its own session or any number of others, never spends it. A
 *    hall shares one NAT address, so nothing here is counted per address;
 *  - clients without a session share one handshake budget (HANDSHAKES_PER_SECOND);
 *    how many sessions one address can mint is capped where they are issued;
 *  - each socket, and each client (its session, or its address without one) over
 *    all its sockets, has a budget of events per second; an event over either is
 *    refused unread (`rate_limited`). A socket refused a few seconds' worth of events
 *    is disconnected; a client, all its sockets together, is cut off: its sockets
 *    disconnected and its handshakes refused for a while, so one client's flood
 *    costs the server a refused handshake, not an event loop.
 * Every map here is per client and forgets a client once it is quiet (`sweep`).
 */
import type { IncomingMessage } from 'node:http';
import type { Socket } from 'socket.io';
import type { Logger } from '../log.ts';
import { RateLimiter } from '../rateLimit.ts';
import { originAllowed } from '../http/hardening.ts';
import type { IoServer } from './poolChannel.ts';

/** Who is behind a request, as the admission sees it. Asked again on each check (a presenter cookie expires). */
export interface Client {
  /** The unit a flood is cut off by: the session's limit key. */
  key: string;
  presenter: boolean;
  /** It showed a session cookie the server signed. */
  returning: boolean;
}

export interface AdmissionOptions {
  allowedOrigins: string[];
  handshakesPerSecond: number;
  socketEventsPerSecond: number;
  clientOf(req: IncomingMessage): Client;
  log: Logger;
  now?: () => number;
}

/** How long a client cut off for flooding cannot open a socket again. */
const BAN_MS = 10_000;
/** A client's budget, all its sockets together, in socket budgets (a viewer may have a few tabs open). */
const CLIENT_SOCKETS = 5;
/** Handshakes of one session: a few tabs at once, then one every two seconds (socket.io's reconnection backs off to 5 s). */
const SESSION_HANDSHAKE_BURST = 6;
const SESSION_HANDSHAKES_PER_SECOND = 0.5;
/** Refused events, in seconds of a budget, after which a socket (or a client) is disconnected. */
const REFUSED_SECONDS_BEFORE_CUTOFF = 3;
const SWEEP_MS = 10_000;

export class Admission {
  private readonly now: () => number;
  /** Clients cut off for flooding, until when. */
  private readonly bans = new Map<string, number>();
  private readonly newcomers: RateLimiter;
  private readonly returning: RateLimiter;
  private readonly socketBudget: RateLimiter;
  private readonly clientBudget: RateLimiter;
  private readonly socketRefusals: RateLimiter;
  private readonly clientRefusals: RateLimiter;
  private readonly socketsOf = new Map<string, Set<Socket>>();
  private readonly sweeper: NodeJS.Timeout;
  private refusedOrigins = 0;
  private disconnected = 0;

  constructor(private readonly options: AdmissionOptions) {
    const now = (this.now = options.now ?? (() => Date.now()));
    const perSecond = options.socketEventsPerSecond;
    this.newcomers = new RateLimiter(options.handshakesPerSecond, options.handshakesPerSecond * 2, now);
    this.returning = new RateLimiter(SESSION_HANDSHAKES_PER_SECOND, SESSION_HANDSHAKE_BURST, now);
    this.socketBudget = new RateLimiter(perSecond, perSecond * 2, now);
    this.clientBudget = new RateLimiter(perSecond * CLIENT_SOCKETS, perSecond * CLIENT_SOCKETS * 2, now);
    // Refusals, themselves a bucket: a socket (or client) refused a few seconds' worth of its events in a burst is cut off.
    this.socketRefusals = new RateLimiter(perSecond, perSecond * REFUSED_SECONDS_BEFORE_CUTOFF, now);
    this.clientRefusals = new RateLimiter(perSecond * CLIENT_SOCKETS, perSecond * CLIENT_SOCKETS * REFUSED_SECONDS_BEFORE_CUTOFF, now);
    this.sweeper = setInterval(() => this.sweep(), SWEEP_MS).unref();
  }

  /** socket.io's `allowRequest`: called for each new connection's handshake. */
  readonly allowRequest = (req: IncomingMessage, callback: (err: string | null | undefined, success: boolean) => void): void => {
    if (!originAllowed(req.headers.origin, req.headers.host, this.options.allowedOrigins)) {
      if (this.refusedOrigins++ % 1000 === 0) this.options.log.warn('socket refused: origin not allowed', { origin: req.headers.origin, refused: this.refusedOrigins });
      return callback('origin not allowed', false);
    }
    const client = this.options.clientOf(req);
    if (client.presenter) return callback(null, true);
    if (this.banned(client.key)) return callback('cut off for flooding: try again later', false);
    const admitted = client.returning ? this.returning.take(client.key) : this.newcomers.take('all');
    if (!admitted) return callback('too many connections: try again in a moment', false);
    callback(null, true);
  };

  /** Counts every socket's events before its handler runs (the payload unread); returns the way to stop. */
  limitEvents(io: IoServer): () => void {
    const onConnection = (socket: Socket) => this.watch(socket);
    io.on('connection', onConnection);
    return () => {
      io.off('connection', onConnection);
      this.close();
    };
  }

  /** Stops the sweeper. */
  close(): void {
    clearInterval(this.sweeper);
  }

  /** Forgets clients that have been quiet long enough for their budgets to be full again, and bans that ran out. */
  sweep(): void {
    const now = this.now();
    for (const [client, until] of this.bans) if (until <= now) this.bans.delete(client);
    for (const limiter of [this.newcomers, this.returning, this.socketBudget, this.clientBudget, this.socketRefusals, this.clientRefusals]) limiter.sweep();
  }

  /** How many clients and sockets the maps hold (what `sweep` keeps bounded). */
  tracked(): number {
    return this.bans.size + this.socketsOf.size +
      [this.newcomers, this.returning, this.socketBudget, this.clientBudget, this.socketRefusals, this.clientRefusals].reduce((n, limiter) => n + limiter.size, 0);
  }

  private banned(client: string): boolean {
    const until = this.bans.get(client);
    if (until === undefined) return false;
    if (until > this.now()) return true;
    this.bans.delete(client);
    return false;
  }

  private cutOff(client: string): void {
    this.bans.set(client, this.now() + BAN_MS);
    const sockets = [...(this.socketsOf.get(client) ?? [])];
    this.options.log.warn('client cut off: far over its event rate', { client: client.slice(0, 16), sockets: sockets.length, forMs: BAN_MS });
    // A presenter's socket shares no fate with the address it came from.
    for (const socket of sockets) if (!this.options.clientOf(socket.request).presenter) socket.disconnect(true);
  }

  private watch(socket: Socket): void {
    const client = this.options.clientOf(socket.request).key;
    const mine = this.socketsOf.get(client) ?? new Set<Socket>();
    mine.add(socket);
    this.socketsOf.set(client, mine);
    socket.use((packet, next) => {
      // The presenter's lane: never counted (asked each time: the role ends with its cookie).
      if (this.options.clientOf(socket.request).presenter) return next();
      if (this.socketBudget.take(socket.id) && this.clientBudget.take(client)) return next();
      const ack = packet.at(-1);
      if (typeof ack === 'function') (ack as (reply: unknown) => void)({ ok: false, error: 'rate_limited', message: 'too many events: slow down' });
      if (!this.clientRefusals.take(client)) return this.cutOff(client);
      if (!this.socketRefusals.take(socket.id)) {
        if (this.disconnected++ % 100 === 0) this.options.log.warn('socket disconnected: far over its event rate', { disconnected: this.disconnected });
        socket.disconnect(true);
      }
    });
    socket.once('disconnect', () => {
      this.socketBudget.forget(socket.id);
      this.socketRefusals.forget(socket.id);
      mine.delete(socket);
      if (mine.size === 0) this.socketsOf.delete(client);
    });
  }
}
