/**
 * A Redis that restarts empty mid-talk, under two server instances: what the hall
 * sees is the same before and after, on both. The slide, the open panels, the
 * faults, the runtimes and whether a talk is live come back (whoever held them
 * writes them back), the deck's version never goes backwards (so a move made on
 * one instance is followed on the other at once), a presenter who acted over
 * HTTP with no window open keeps the talk live, and no fencing token is handed
 * out twice.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { io, type Socket } from 'socket.io-client';
import type { Ack, AllocateReply, DeckState, RedisState } from '../../server/protocol.ts';
import { DECK_KEY } from '../../server/hall/deckStore.ts';
import { startPrivateRedis, type PrivateRedis } from '../../server/redis/privateRedis.ts';
import { PRESENTER_SECRET, api, newViewerSession, startSite, type Site } from '../support/site.ts';
import { withDeadline } from '../support/deadline.ts';
import { connectRedis, pollUntil } from '../support/redis.ts';

const DEADLINE_MS = 10_000;
const RECOVERY_MS = 30_000;
/** Short enough for a test, long enough that the restart happens well inside it; an instance looks every 3 s. */
const IDLE_SECONDS = 12;
const PRESENTER = { authorization: `Bearer ${PRESENTER_SECRET}` };

let redis: PrivateRedis;
let first: Site;
let second: Site;
const sockets: Socket[] = [];

before(async () => {
  redis = await startPrivateRedis();
  const env = { REDIS_URL: redis.url, REAPER_SWEEP_MS: '3600000', PRESENTER_IDLE_SECONDS: String(IDLE_SECONDS) };
  first = await startSite(env);
  second = await startSite(env);
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
  await withDeadline(new Promise((resolve, reject) => (socket.once('connect', () => resolve(undefined)), socket.once('connect_error', reject))), DEADLINE_MS, 'a socket to connect');
  return socket;
}

async function send<T>(socket: Socket, event: string, payload: unknown): Promise<T> {
  const ack = (await socket.timeout(DEADLINE_MS).emitWithAck(event, payload)) as Ack<T>;
  assert.ok(ack.ok, `${event}: ${JSON.stringify(ack)}`);
  return ack.data;
}

/** What the hall sees of a deck: everything but the version and the time of the last change. */
function seen(state: DeckState) {
  const { version: _version, at: _at, ...rest } = state;
  return rest;
}

/** Kills the Redis (SIGKILL: nothing saved, and persistence is off anyway) and starts an empty one on its port, with its password. */
async function restartEmpty(): Promise<void> {
  const { port, password } = redis;
  process.kill(redis.pid, 'SIGKILL');
  await withDeadline(redis.exited, DEADLINE_MS, 'the killed redis-server to exit');
  redis = await startPrivateRedis({ port, password });
}

async function allocateOn(site: Site, evalId: string): Promise<number> {
  const reply = await api<AllocateReply>(site, 'POST', '/api/allocate', { evalId }, PRESENTER);
  assert.equal(reply.status, 200, JSON.stringify(reply.body));
  return reply.body.token;
}

test('two instances on a Redis that restarts empty: the same deck on both, versions and tokens keep growing, the talk stays live', { timeout: 120_000 }, async () => {
  // The presenter sets the stage from a window on the first instance...
  const window = await connect(first, PRESENTER);
  await send(window, 'hall:join', {});
  await send(window, 'deck:move', { h: 5, v: 1, f: -1 });
  await send(window, 'panel:open', { panel: 'lua-release', open: true });
  await send(window, 'panel:open', { panel: 'journey', open: true });
  await send(window, 'panel:pick-runtime', { panel: 'journey', runtime: 'celery' });
  await send(window, 'panel:pick-fault', { panel: 'innocent-pattern', fault: 'task-fails' });
  await pollUntil(async () => JSON.stringify(seen(second.hall.deck.state)) === JSON.stringify(seen(first.hall.deck.state)), DEADLINE_MS, 'the second instance to follow the deck');
  // ...then closes it, and acts over HTTP only: no presenter window is open on either instance.
  window.disconnect();
  await pollUntil(async () => (await api(first, 'GET', '/healthz')).status === 200, DEADLINE_MS, 'the first instance to answer');
  const tokens = [await allocateOn(first, 'eval-before-1'), await allocateOn(first, 'eval-before-2'), await allocateOn(second, 'eval-before-3')];
  const highest = Math.max(...tokens);
  const before = first.hall.deck.state;
  assert.equal(before.live, true);
  assert.deepEqual(seen(second.hall.deck.state), seen(before));
  // Each instance has heard of the other's tokens (they are relayed with every pool change).
  await pollUntil(async () => first.actions.pools.knownToken('main') === highest && second.actions.pools.knownToken('main') === highest, DEADLINE_MS, 'both instances to know the highest token');

  // A viewer on each instance hears when Redis is back and everything rebuilt.
  const viewers = await Promise.all([first, second].map(async (site) => connect(site, { cookie: await newViewerSession(site) })));
  for (const viewer of viewers) await send(viewer, 'hall:join', {});
  const back = viewers.map((viewer) =>
    withDeadline(new Promise<void>((resolve) => viewer.on('redis:state', (state: RedisState) => state.redis === 'ok' && resolve())), RECOVERY_MS, 'Redis to be back'),
  );
  const actedAt = Date.now();
  await restartEmpty();
  await Promise.all(back);

  // Both show what they showed, and Redis holds it again, with a version no lower than before.
  for (const [name, site] of [['first', first], ['second', second]] as const) {
    assert.deepEqual(seen(site.hall.deck.state), seen(before), `the ${name} instance shows the deck it showed`);
    assert.ok(site.hall.deck.state.version >= before.version, `the ${name} instance's version did not go back: ${site.hall.deck.state.version} < ${before.version}`);
  }
  const direct = await connectRedis(redis.url);
  try {
    assert.ok(Number(await direct.hget(DECK_KEY, 'version')) >= before.version, 'Redis holds the deck again, at its version');
    assert.deepEqual(JSON.parse((await direct.hget(DECK_KEY, 'open')) ?? 'null'), before.open);
  } finally {
    direct.disconnect();
  }

  // Two looks of each instance later (it looks every 3 s), the presenter's HTTP action of a moment ago still keeps the talk live.
  await new Promise((resolve) => setTimeout(resolve, Math.max(0, actedAt + 7_000 - Date.now())));
  assert.ok(Date.now() - actedAt < IDLE_SECONDS * 1000, 'still inside the idle time (else this proves nothing)');
  assert.equal(first.hall.deck.state.live, true, 'the talk is live on the first instance');
  assert.equal(second.hall.deck.state.live, true, 'the talk is live on the second instance');

  // A move on the first instance is followed on the second at once: its version is above every earlier one.
  const presenter = await connect(first, PRESENTER);
  const followed = new Promise<DeckState>((resolve) => viewers[1]!.on('deck:changed', (state: DeckState) => state.h === 6 && resolve(state)));
  const moved = await send<DeckState>(presenter, 'deck:move', { h: 6, v: 0, f: -1 });
  assert.ok(moved.version > before.version);
  const onSecond = await withDeadline(followed, DEADLINE_MS, 'the second instance to follow the move');
  assert.deepEqual(seen(onSecond), { ...seen(before), h: 6, v: 0, f: -1 }, 'the move, and everything else as it was');

  // No token is handed out twice: on either instance, the next ones are above every earlier one.
  const next = [await allocateOn(second, 'eval-after-1'), await allocateOn(first, 'eval-after-2')];
  assert.ok(next[0]! > highest, `a token after the restart (${next[0]}) is above every earlier one (${highest})`);
  assert.ok(next[1]! > next[0]!, 'and they keep growing');
});
