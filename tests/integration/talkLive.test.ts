/**
 * Whether a talk is live, over real sockets and a real (private) Redis: with no
 * presenter, every panel is open to everyone within the limits; a presenter window
 * joining makes the talk live (one `deck:changed`), and the presenter's gating
 * applies; it stays live while that window stays, on every instance sharing the
 * Redis; once the last presenter window has been gone for PRESENTER_IDLE_SECONDS,
 * the demos open to all again.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { io, type Socket } from 'socket.io-client';
import type { Ack, DeckState, HallWelcome } from '../../server/protocol.ts';
import { PRESENTER_SEEN_KEY } from '../../server/hall/talkPresence.ts';
import { startPrivateRedis, type PrivateRedis } from '../../server/redis/privateRedis.ts';
import { PRESENTER_SECRET, newViewerSession, startSite, type Site } from '../support/site.ts';
import { untilTrue, withDeadline } from '../support/deadline.ts';

const DEADLINE_MS = 10_000;
const BEARER = { authorization: `Bearer ${PRESENTER_SECRET}` };
/** Short, so the test sees a talk end; the heartbeat and the checks run at a quarter of it. */
const IDLE = { PRESENTER_IDLE_SECONDS: '1', REAPER_SWEEP_MS: '3600000' };

let redis: PrivateRedis;
let first: Site;
let second: Site;
const sockets: Socket[] = [];

before(async () => {
  redis = await startPrivateRedis();
  first = await startSite({ REDIS_URL: redis.url, ...IDLE });
  second = await startSite({ REDIS_URL: redis.url, ...IDLE });
});

after(async () => {
  for (const socket of sockets) socket.disconnect();
  await first?.close();
  await second?.close();
  await redis?.stop();
});

async function connect(site: Site, headers: Record<string, string>): Promise<Socket> {
  const socket = io(site.url, { transports: ['websocket'], forceNew: true, reconnection: false, extraHeaders: headers });
  sockets.push(socket);
  await withDeadline(
    new Promise<void>((resolve, reject) => {
      socket.once('connect', () => resolve());
      socket.once('connect_error', reject);
    }),
    DEADLINE_MS,
    'the socket to connect',
  );
  return socket;
}

async function send<T>(socket: Socket, event: string, payload: unknown): Promise<Ack<T>> {
  return (await socket.timeout(DEADLINE_MS).emitWithAck(event, payload)) as Ack<T>;
}

function nextDeck(socket: Socket, matches: (state: DeckState) => boolean, what: string): Promise<DeckState> {
  return withDeadline(
    new Promise((resolve) => {
      const listener = (state: DeckState) => {
        if (!matches(state)) return;
        socket.off('deck:changed', listener);
        resolve(state);
      };
      socket.on('deck:changed', listener);
    }),
    DEADLINE_MS,
    what,
  );
}

const wait = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

test('no presenter: every panel is open to all; a presenter window makes the talk live on both instances until it has been gone for the idle time', async () => {
  const viewer = await connect(second, { cookie: await newViewerSession(second) });
  const welcome = await send<HallWelcome>(viewer, 'hall:join', {});
  assert.ok(welcome.ok);
  assert.equal(welcome.data.state.live, false, 'a new hall: no talk live');
  assert.deepEqual(welcome.data.state.open, [], 'no panel opened by anyone');
  // A reader alone fires a panel nobody opened, and runs under a fault of their own.
  const alone = await send<{ executor: string }>(viewer, 'pool:allocate', { evalId: 'reader-1', pool: 'main' });
  assert.ok(alone.ok, JSON.stringify(alone));

  // A presenter window joins the hall on the other instance: the talk is live, one message says so.
  const live = nextDeck(viewer, (state) => state.live, 'the talk to go live');
  const presenter = await connect(first, BEARER);
  const joined = await send<HallWelcome>(presenter, 'hall:join', {});
  assert.ok(joined.ok && joined.data.role === 'presenter');
  await live;
  assert.equal(second.hall.deck.state.live, true);
  const closed = await send(viewer, 'pool:allocate', { evalId: 'reader-2', pool: 'main' });
  assert.equal(!closed.ok && closed.error, 'forbidden', 'the presenter has not opened it');

  // Well past the idle time, the window still there: the talk stays live on both instances.
  await wait(2500);
  assert.deepEqual([first.hall.deck.state.live, second.hall.deck.state.live], [true, true]);
  assert.ok((await first.redis.pttl(PRESENTER_SEEN_KEY)) > 0, 'the presenter is noted in Redis, with a TTL');

  // The window closes: after the idle time, no talk is live, and the reader has the demos again.
  const ended = nextDeck(viewer, (state) => !state.live, 'the talk to end');
  const closedAt = Date.now();
  presenter.disconnect();
  await ended;
  const after = Date.now() - closedAt;
  assert.ok(after >= 900, `not before the idle time (${after} ms)`);
  assert.ok((await send(viewer, 'pool:allocate', { evalId: 'reader-3', pool: 'main' })).ok);
});

test('a presenter action over HTTP is a presenter here too; a viewer cannot start a talk', async () => {
  await untilTrue(first.hall.deck, 'changed', () => !first.hall.deck.state.live, DEADLINE_MS, 'no talk live');
  const viewer = await connect(first, { cookie: await newViewerSession(first) });
  assert.ok((await send(viewer, 'hall:join', {})).ok);
  assert.equal((await send(viewer, 'panel:open', { panel: 'lua-release', open: false })).ok, false);
  assert.equal((await fetch(`${first.url}/api/hall`)).status, 403);
  assert.equal(first.hall.deck.state.live, false, 'refused presenter actions start no talk');

  const live = nextDeck(viewer, (state) => state.live, 'the talk to go live');
  const response = await fetch(`${first.url}/api/hall`, { headers: BEARER });
  assert.equal(((await response.json()) as { state: DeckState }).state.live, true);
  await live;
  assert.equal((await send(viewer, 'pool:allocate', { evalId: 'reader-4', pool: 'main' })).ok, false);
});
