/**
 * The page's one socket.io connection, shared by every panel: a hall full of
 * phones should cost the server one socket per viewer, not one per panel.
 *
 * It reduces socket.io's many events to the three states a viewer needs to see
 * (connected / reconnecting / offline), and wraps acknowledged requests in a
 * Promise that always settles: with the server's Ack, or with a local failure
 * when there is no connection or no answer in time. Panels never hang on a click.
 *
 * Types only come from the server's protocol (`import type`): the browser bundle
 * must not pull in zod or anything else the server uses to validate.
 */
import { io, type Socket } from 'socket.io-client';
import type { ClientToServerEvents, ServerToClientEvents } from '../server/protocol.ts';

export type ConnectionState = 'connected' | 'reconnecting' | 'offline';

type RequestEvent = keyof ClientToServerEvents;
type PushEvent = keyof ServerToClientEvents;

/** What a request sends: the event's first argument. */
export type RequestOf<E extends RequestEvent> = Parameters<ClientToServerEvents[E]>[0];
/** What the server acknowledges with: the argument of the event's ack callback. */
export type AckOf<E extends RequestEvent> = Parameters<Parameters<ClientToServerEvents[E]>[1]>[0];

/** A request that never reached the server, or whose answer never came back. */
export interface LocalFailure {
  ok: false;
  error: 'offline' | 'timeout';
  message: string;
}

export type Reply<E extends RequestEvent> = AckOf<E> | LocalFailure;

export interface ConnectionOptions {
  /** Where the server is; the page's own origin when left out (the server serves the deck). */
  url?: string;
  /** How long a request waits for its Ack. */
  timeoutMs?: number;
  /** False: never connect (a static build, where no server exists to answer). */
  autoConnect?: boolean;
}

export type AppSocket = Socket<ServerToClientEvents, ClientToServerEvents>;

export class Connection {
  readonly socket: AppSocket;
  private currentState: ConnectionState = 'reconnecting';
  private connectedOnce = false;
  private readonly timeoutMs: number;
  private readonly stateListeners = new Set<(state: ConnectionState) => void>();
  private readonly connectListeners = new Set<(reconnect: boolean) => void>();
  /** What the server last said of its Redis (it says so only when Redis is down, or back). */
  private redisUp = true;
  private readonly redisListeners = new Set<(up: boolean) => void>();
  private readonly cleanups: (() => void)[] = [];

  constructor(options: ConnectionOptions = {}) {
    this.timeoutMs = options.timeoutMs ?? 5000;
    const socketOptions = {
      autoConnect: options.autoConnect ?? true,
      // A talk: viewers should be back within a few seconds of the network returning,
      // and never give up (a phone may lose the Wi-Fi for a minute).
      reconnectionDelay: 500,
      reconnectionDelayMax: 3000,
    };
    this.socket = options.url ? io(options.url, socketOptions) : io(socketOptions);

    const onConnect = () => {
      const reconnect = this.connectedOnce;
      this.connectedOnce = true;
      // A fresh socket: the server tells it at once if its Redis is down.
      this.setRedis(true);
      this.setState('connected');
      // Every (re)connect is a new socket on the server, in no room yet: each panel
      // subscribes again and gets a fresh snapshot, so nothing missed while away stays missing.
      for (const listener of [...this.connectListeners]) listener(reconnect);
    };
    const onDisconnect = (reason: string) => {
      if (reason === 'io server disconnect') {
        // The server closed this socket on purpose; socket.io will not retry on its own.
        this.socket.connect();
      }
      this.setState(this.offlineOr('reconnecting'));
    };
    const onRetry = () => this.setState(this.offlineOr('reconnecting'));
    const onGaveUp = () => this.setState('offline');
    // The browser knows about a lost network before any heartbeat times out.
    const onBrowserOffline = () => this.setState('offline');
    const onBrowserOnline = () => this.setState(this.socket.connected ? 'connected' : 'reconnecting');

    const onRedisState = (state: { redis: 'ok' | 'unavailable' }) => this.setRedis(state.redis === 'ok');
    this.socket.on('redis:state', onRedisState);
    this.cleanups.push(() => this.socket.off('redis:state', onRedisState));
    this.socket.on('connect', onConnect);
    this.socket.on('disconnect', onDisconnect);
    this.socket.io.on('reconnect_attempt', onRetry);
    this.socket.io.on('reconnect_error', onRetry);
    this.socket.io.on('reconnect_failed', onGaveUp);
    window.addEventListener('offline', onBrowserOffline);
    window.addEventListener('online', onBrowserOnline);
    this.cleanups.push(
      () => this.socket.off('connect', onConnect),
      () => this.socket.off('disconnect', onDisconnect),
      () => this.socket.io.off('reconnect_attempt', onRetry),
      () => this.socket.io.off('reconnect_error', onRetry),
      () => this.socket.io.off('reconnect_failed', onGaveUp),
      () => window.removeEventListener('offline', onBrowserOffline),
      () => window.removeEventListener('online', onBrowserOnline),
    );
    if (!navigator.onLine) this.currentState = 'offline';
  }

  get state(): ConnectionState {
    return this.currentState;
  }

  get connected(): boolean {
    return this.currentState === 'connected';
  }

  /** False until the first connect: the badge says "connecting", not "reconnecting". */
  get hasConnected(): boolean {
    return this.connectedOnce;
  }

  /** Calls `listener` with every state change, and once now. Returns the unsubscribe. */
  onState(listener: (state: ConnectionState) => void): () => void {
    this.stateListeners.add(listener);
    listener(this.currentState);
    return () => this.stateListeners.delete(listener);
  }

  /** Calls `listener` whenever the server's Redis goes down or comes back, and once now. */
  onRedis(listener: (up: boolean) => void): () => void {
    this.redisListeners.add(listener);
    listener(this.redisUp);
    return () => this.redisListeners.delete(listener);
  }

  private setRedis(up: boolean): void {
    if (up === this.redisUp) return;
    this.redisUp = up;
    for (const listener of [...this.redisListeners]) listener(up);
  }

  /**
   * Calls `listener` on every connect (`reconnect` true after the first), and at once
   * (with `reconnect` false) if already connected. Returns the unsubscribe.
   */
  onConnect(listener: (reconnect: boolean) => void): () => void {
    this.connectListeners.add(listener);
    if (this.socket.connected) listener(false);
    return () => this.connectListeners.delete(listener);
  }

  /** Listens to a server push; returns the unsubscribe, so a panel's destroy is one loop. */
  on<E extends PushEvent>(event: E, handler: ServerToClientEvents[E]): () => void {
    // socket.io's typed `on` cannot follow a generic event name; the signature above keeps callers typed.
    const socket = this.socket as unknown as { on(e: string, h: unknown): void; off(e: string, h: unknown): void };
    socket.on(event, handler);
    return () => socket.off(event, handler);
  }

  /**
   * Sends an acknowledged request. Settles with the server's Ack, or with a local
   * failure: `offline` at once when not connected (socket.io would otherwise buffer
   * the click and replay it on reconnect, long after the viewer gave up), `timeout`
   * when no answer came in time (the action may still have happened: the pool view
   * stays live from Redis either way).
   */
  request<E extends RequestEvent>(event: E, payload: RequestOf<E>, timeoutMs = this.timeoutMs): Promise<Reply<E>> {
    if (!this.socket.connected) {
      return Promise.resolve({ ok: false, error: 'offline', message: 'Not connected to the server.' });
    }
    return new Promise((resolve) => {
      const emitter = this.socket.timeout(timeoutMs) as unknown as {
        emit(e: string, payload: unknown, ack: (error: Error | null, result: AckOf<E>) => void): void;
      };
      emitter.emit(event, payload, (error, result) => {
        if (error) {
          resolve({ ok: false, error: 'timeout', message: `No answer from the server within ${Math.round(timeoutMs / 1000)} s.` });
        } else {
          resolve(result);
        }
      });
    });
  }

  destroy(): void {
    for (const cleanup of this.cleanups.splice(0)) cleanup();
    this.stateListeners.clear();
    this.connectListeners.clear();
    this.socket.disconnect();
  }

  private offlineOr(state: ConnectionState): ConnectionState {
    return navigator.onLine ? state : 'offline';
  }

  private setState(state: ConnectionState): void {
    if (state === this.currentState) return;
    this.currentState = state;
    for (const listener of [...this.stateListeners]) listener(state);
  }
}
