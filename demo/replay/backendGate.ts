/**
 * Whether the panels show the server live or replay recordings: live as soon as
 * the page's connection is up; replay when no server answers. A build told it is
 * static (`npm run build:static`, VITE_STATIC_DECK=1) replays at once and opens no
 * socket; otherwise a failed first connect (a static host answers socket.io with
 * a 404) or no answer within `graceMs` starts the replay, and the socket keeps
 * trying: the moment a server answers, the panels go live.
 */
import type { Connection } from '../connection.ts';

export type PanelSource = 'pending' | 'live' | 'replay';

/** The build was told there is no server (a static host). */
export const STATIC_BUILD = import.meta.env.VITE_STATIC_DECK === '1';

const GRACE_MS = 2500;

export class BackendGate {
  private current: PanelSource = 'pending';
  private readonly listeners = new Set<(source: PanelSource) => void>();
  private readonly cleanups: (() => void)[] = [];

  /** `connection` null: the static build, no server to try. */
  constructor(connection: Connection | null, graceMs = GRACE_MS) {
    if (!connection) {
      this.current = 'replay';
      return;
    }
    const timer = setTimeout(() => this.set('replay'), graceMs);
    const onConnectError = () => this.set('replay');
    connection.socket.on('connect_error', onConnectError);
    this.cleanups.push(
      () => clearTimeout(timer),
      () => connection.socket.off('connect_error', onConnectError),
      connection.onState((state) => {
        // Live is for good: a server that drops out later shows as "reconnecting" on live panels.
        if (state === 'connected') {
          clearTimeout(timer);
          this.set('live');
        }
      }),
    );
  }

  get source(): PanelSource {
    return this.current;
  }

  /** Calls `listener` now and on every change; returns the unsubscribe. */
  onChange(listener: (source: PanelSource) => void): () => void {
    this.listeners.add(listener);
    listener(this.current);
    return () => this.listeners.delete(listener);
  }

  destroy(): void {
    for (const cleanup of this.cleanups.splice(0)) cleanup();
    this.listeners.clear();
  }

  private set(source: PanelSource): void {
    if (this.current === source || this.current === 'live') return;
    this.current = source;
    for (const listener of [...this.listeners]) listener(source);
  }
}
