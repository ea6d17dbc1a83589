/**
 * A hall in a test, connected through the cluster's nginx: viewers that behave as the
 * deck's client does (each its own session cookie, as a phone has from its first page;
 * on every connect they join the hall and watch pool `main` again), and what each one
 * holds: the deck state, the pool, and every allocation it was shown, in order.
 */
import { readFileSync } from 'node:fs';
import { io, type Socket } from 'socket.io-client';
import type { Ack, DeckState, HallWelcome, PoolChange, PoolSnapshot } from '../../server/protocol.ts';

export interface HallViewer {
  socket: Socket;
  cookie: string;
  deck: DeckState | null;
  pool: PoolSnapshot | null;
  /** The eval ids of every allocation shown in a `pool:changed`, in order. */
  allocations: string[];
  /** When it last lost its connection, and how long each way back took. */
  droppedAt: number | null;
  backAfterMs: number[];
  /** How long its last way back took to connect, and in how many attempts (the rest of backAfterMs is joining). */
  reconnect: { connectedAfterMs: number; attempts: number } | null;
}

/** A session cookie, as a browser gets with its first page (through nginx: any instance may issue it). */
export async function sessionCookie(url: string): Promise<string> {
  const response = await fetch(`${url}/healthz`);
  await response.arrayBuffer();
  const cookie = response.headers.get('set-cookie')?.split(';')[0];
  if (!cookie) throw new Error('no session cookie issued');
  return cookie;
}

export async function presenterCookie(url: string, secret: string): Promise<string> {
  const response = await fetch(`${url}/presenter?token=${encodeURIComponent(secret)}`, { redirect: 'manual' });
  await response.arrayBuffer();
  const cookie = response.headers.get('set-cookie')?.split(';')[0];
  if (!cookie) throw new Error(`no presenter cookie (${response.status})`);
  return cookie;
}

export async function request<T>(socket: Socket, event: string, payload: unknown, timeoutMs = 10_000): Promise<T> {
  const ack = (await socket.timeout(timeoutMs).emitWithAck(event, payload)) as Ack<T>;
  if (!ack.ok) throw new Error(`${event}: ${JSON.stringify(ack)}`);
  return ack.data;
}

/**
 * A viewer through `url`, with the page's Origin (the instance checks it against the
 * Host nginx forwards). WebSocket only, reconnecting as the deck does.
 */
export function hallViewer(url: string, cookie: string, onJoined: (viewer: HallViewer) => void = () => {}): HallViewer {
  const socket = io(url, {
    transports: ['websocket'],
    forceNew: true,
    extraHeaders: { cookie, origin: url },
    reconnectionDelay: 500,
    reconnectionDelayMax: 3000,
    timeout: 20_000,
  });
  const viewer: HallViewer = { socket, cookie, deck: null, pool: null, allocations: [], droppedAt: null, backAfterMs: [], reconnect: null };
  socket.io.on('reconnect', (attempts) => (viewer.reconnect = { connectedAfterMs: Date.now() - (viewer.droppedAt ?? Date.now()), attempts }));
  socket.on('connect', async () => {
    try {
      const welcome = await request<HallWelcome>(socket, 'hall:join', {});
      const pool = await request<PoolSnapshot>(socket, 'pool:watch', { pool: 'main' });
      // A fresh join is the authority, as in the deck's client (demo/hall/hallLink.ts).
      viewer.deck = welcome.state;
      if (!viewer.pool || pool.readAt >= viewer.pool.readAt) viewer.pool = pool;
      if (viewer.droppedAt !== null) {
        viewer.backAfterMs.push(Date.now() - viewer.droppedAt);
        viewer.droppedAt = null;
      }
      onJoined(viewer);
    } catch {
      // Its socket went away again: the next connect joins again.
    }
  });
  socket.on('disconnect', () => (viewer.droppedAt ??= Date.now()));
  socket.on('deck:changed', (state: DeckState) => {
    if (!viewer.deck || state.version > viewer.deck.version) viewer.deck = state;
  });
  socket.on('pool:changed', (change: PoolChange) => {
    if (change.pool !== 'main') return;
    if (!viewer.pool || change.readAt >= viewer.pool.readAt) viewer.pool = change;
    for (const action of change.actions) if (action.kind === 'allocated') viewer.allocations.push(action.allocation.evalId);
  });
  return viewer;
}

/** Established TCP connections to 127.0.0.1:port (from /proc/net/tcp): an instance's sockets, nginx being their one client. */
export function connectionsTo(port: number): number {
  const hexPort = port.toString(16).toUpperCase().padStart(4, '0');
  let count = 0;
  for (const file of ['/proc/net/tcp', '/proc/net/tcp6']) {
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch {
      continue;
    }
    for (const line of text.split('\n').slice(1)) {
      const fields = line.trim().split(/\s+/);
      // local_address is field 1 (ADDR:PORT), st is field 3 (01: ESTABLISHED).
      if (fields[1]?.endsWith(`:${hexPort}`) && fields[3] === '01') count++;
    }
  }
  return count;
}
