/**
 * Two server instances on two ports sharing one (private) Redis, as behind a load
 * balancer: the presenter's window talks to one, the followers' phones to the
 * other. Followers follow the deck, see every pool change whoever caused it and
 * on whichever instance, may act on a panel the presenter opened on the other
 * instance; a late joiner lands where the presenter is.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { io, type Socket } from 'socket.io-client';
import type { Ack, AllocateReply, DeckState, HallWelcome, PoolChange, ReleaseReply } from '../../server/protocol.ts';
import { startPrivateRedis, type PrivateRedis } from '../../server/redis/privateRedis.ts';
import { PRESENTER_SECRET, newViewerSession, startSite, type Site } from '../support/site.ts';

const DEADLINE_MS = 10_000;

let redis: PrivateRedis;
let first: Site;
let second: Site;
const sockets: Socket[] = [];

async function connect(site: Site, headers: Record<string, string>): Promise<Socket> {
  const socket = io(site.url, { transports: ['websocket'], forceNew: true, reconnection: false, extraHeaders: headers });
  sockets.push(socket);
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('no connection')), DEADLINE_MS);
    socket.once('connect', () => (clearTimeout(timer), resolve()));
    socket.once('connect_error', (error) => (clearTimeout(timer), reject(error)));
  });
  return socket;
}

async function send<T>(socket: Socket, event: string, payload: unknown): Promise<T> {
  const ack = (await socket.timeout(DEADLINE_MS).emitWithAck(event, payload)) as Ack<T>;
  assert.ok(ack.ok, `${event}: ${JSON.stringify(ack)}`);
  return ack.data;
}

/** Every `pool:changed` a socket gets, and a way to wait until the ones so far satisfy a condition. */
function collect(socket: Socket) {
  const changes: PoolChange[] = [];
  const waiters: (() => void)[] = [];
  socket.on('pool:changed', (change: PoolChange) => {
    changes.push(change);
    for (const wake of waiters.splice(0)) wake();
  });
  const until = (condition: (all: PoolChange[]) => boolean, what: string) =>
    new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`timed out waiting for ${what}`)), DEADLINE_MS);
      const check = () => {
        if (condition(changes)) {
          clearTimeout(timer);
          resolve();
        } else waiters.push(check);
      };
      check();
    });
  return { changes, until };
}

function nextDeck(socket: Socket, matches: (state: DeckState) => boolean): Promise<DeckState> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('no matching deck:changed')), DEADLINE_MS);
    const listener = (state: DeckState) => {
      if (!matches(state)) return;
      clearTimeout(timer);
      socket.off('deck:changed', listener);
      resolve(state);
    };
    socket.on('deck:changed', listener);
  });
}

before(async () => {
  redis = await startPrivateRedis();
  first = await startSite({ REDIS_URL: redis.url, REAPER_SWEEP_MS: '3600000' });
  second = await startSite({ REDIS_URL: redis.url, REAPER_SWEEP_MS: '3600000' });
  assert.notEqual(first.url, second.url);
});

after(async () => {
  for (const socket of sockets) socket.disconnect();
  await first?.close();
  await second?.close();
  await redis?.stop();
});

test('a presenter on one instance, followers on the other: they follow the deck and see every pool change', async () => {
  const presenter = await connect(first, { authorization: `Bearer ${PRESENTER_SECRET}` });
  const followers = await Promise.all([0, 1, 2].map(async () => connect(second, { cookie: await newViewerSession(second) })));
  for (const follower of followers) {
    const welcome = await send<HallWelcome>(follower, 'hall:join', {});
    assert.equal(welcome.role, 'viewer');
    await send(follower, 'pool:watch', { pool: 'main' });
  }
  assert.equal((await send<HallWelcome>(presenter, 'hall:join', {})).role, 'presenter');
  await send(presenter, 'pool:watch', { pool: 'main' });
  const seen = followers.map(collect);
  const seenByPresenter = collect(presenter);

  // The deck: a move and an opened panel on the first instance reach the followers on the second.
  const moved = followers.map((follower) => nextDeck(follower, (state) => state.h === 4));
  const state = await send<DeckState>(presenter, 'deck:move', { h: 4, v: 0, f: -1 });
  for (const followed of await Promise.all(moved)) assert.equal(followed.version, state.version);
  const opened = followers.map((follower) => nextDeck(follower, (s) => s.open.includes('lua-release')));
  await send(presenter, 'panel:open', { panel: 'lua-release', open: true });
  await Promise.all(opened);

  // Pool changes made through the first instance: each follower sees each click exactly once.
  const allocation = await send<AllocateReply>(presenter, 'pool:allocate', { evalId: 'eval-two-1', pool: 'main' });
  await send<ReleaseReply>(presenter, 'pool:release', { executor: allocation.executor, pool: 'main' });
  const again = await send<AllocateReply>(presenter, 'pool:allocate', { evalId: 'eval-two-2', pool: 'main' });
  const both = await send<ReleaseReply[]>(presenter, 'pool:double-release', { executor: again.executor, pool: 'main' });
  assert.deepEqual(both.map((reply) => reply.status), ['released', 'already_in_pool']);

  // And a follower on the second instance may fire the panel the presenter opened on the first.
  const fromFollower = await send<AllocateReply>(followers[0]!, 'pool:allocate', { evalId: 'eval-two-3', pool: 'main' });

  const clicks = (changes: PoolChange[]) => changes.flatMap((change) => change.actions);
  const everyClick = (changes: PoolChange[]) => clicks(changes).length >= 5;
  await Promise.all([...seen, seenByPresenter].map((viewer) => viewer.until(everyClick, 'all five clicks')));
  for (const viewer of [...seen, seenByPresenter]) {
    const kinds = clicks(viewer.changes).map((action) => (action.kind === 'allocated' ? `allocated ${action.allocation.evalId}` : action.kind === 'released' ? `released ×${action.releases.length}` : action.kind));
    assert.deepEqual(kinds, ['allocated eval-two-1', 'released ×1', 'allocated eval-two-2', 'released ×2', 'allocated eval-two-3'], 'every click once, in order');
    assert.equal(viewer.changes.flatMap((change) => change.doubleReleases).length, 1, 'the double release is flagged once');
    const last = viewer.changes.at(-1)!;
    assert.equal(last.busy[fromFollower.executor], 'eval-two-3', 'the last message shows the pool as Redis holds it');
  }

  // A phone joining the second instance now lands where the presenter is, with the panel open.
  const late = await connect(second, { cookie: await newViewerSession(second) });
  const welcome = await send<HallWelcome>(late, 'hall:join', {});
  assert.equal(welcome.state.h, 4);
  assert.ok(welcome.state.open.includes('lua-release'));
  assert.equal(welcome.state.version, second.hall.deck.state.version);
  assert.deepEqual(second.hall.deck.state.open, first.hall.deck.state.open);
});

test('closing the panel on one instance closes it on the other: a follower there is refused', async () => {
  const presenter = await connect(first, { authorization: `Bearer ${PRESENTER_SECRET}` });
  const follower = await connect(second, { cookie: await newViewerSession(second) });
  await send(follower, 'hall:join', {});
  const closed = nextDeck(follower, (state) => !state.open.includes('lua-release'));
  await send(presenter, 'panel:open', { panel: 'lua-release', open: false });
  await closed;
  const refused = (await follower.timeout(DEADLINE_MS).emitWithAck('pool:allocate', { evalId: 'eval-two-4', pool: 'main' })) as Ack<unknown>;
  assert.equal(refused.ok, false);
  assert.equal(!refused.ok && refused.error, 'forbidden');
});

test('a viewer session has one budget across instances: its burst spent on one, the other refuses it too', async () => {
  const limited = await startPrivateRedis();
  const options = { REDIS_URL: limited.url, REAPER_SWEEP_MS: '3600000', VIEWER_ACTIONS_PER_SECOND: '0.1', VIEWER_ACTION_BURST: '2' };
  const [one, two] = [await startSite(options), await startSite(options)];
  try {
    const presenter = await connect(one, { authorization: `Bearer ${PRESENTER_SECRET}` });
    await send(presenter, 'panel:open', { panel: 'lua-release', open: true });
    // One session (a cookie valid on both instances), a socket on each.
    const cookie = await newViewerSession(one);
    const onOne = await connect(one, { cookie });
    const onTwo = await connect(two, { cookie });
    await send(onOne, 'pool:allocate', { evalId: 'eval-budget-1', pool: 'main' });
    await send(onTwo, 'pool:allocate', { evalId: 'eval-budget-2', pool: 'main' });
    for (const socket of [onOne, onTwo]) {
      const refused = (await socket.timeout(DEADLINE_MS).emitWithAck('pool:allocate', { evalId: 'eval-budget-3', pool: 'main' })) as Ack<unknown>;
      assert.equal(!refused.ok && refused.error, 'rate_limited', 'the burst of 2 is spent, on both instances together');
    }
    // Another session still has its own budget.
    const other = await connect(two, { cookie: await newViewerSession(two) });
    await send(other, 'pool:allocate', { evalId: 'eval-budget-4', pool: 'main' });
  } finally {
    await one.close();
    await two.close();
    await limited.stop();
  }
});
