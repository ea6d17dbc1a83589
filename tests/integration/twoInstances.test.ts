/**
 * Two server instances on two ports sharing one (private) Redis, as behind a load
 * balancer: the presenter's window talks to one, the followers' phones to the
 * other. Followers follow the deck, see every pool change whoever caused it and
 * on whichever instance, may act on a panel the presenter opened on the other
 * instance; a late joiner lands where the presenter is. A run played on one is
 * read on the other; a presenter signed in on one is the presenter on all.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { io, type Socket } from 'socket.io-client';
import type { Ack, AllocateReply, DeckState, HallWelcome, PoolChange, ReleaseReply, RunRecord, RunSummary, TimelineEvent } from '../../server/protocol.ts';
import { startPrivateRedis, type PrivateRedis } from '../../server/redis/privateRedis.ts';
import { PRESENTER_SECRET, api, newViewerSession, startSite, type Site } from '../support/site.ts';
import { withDeadline } from '../support/deadline.ts';

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

test('a run played on one instance is read on the other: by id as it plays (each event it streamed already there), at its end, and by a late joiner there', async () => {
  const watcher = await connect(second, { cookie: await newViewerSession(second) });
  await send<RunRecord[]>(watcher, 'runs:watch', {});
  let id = '';
  // For every event the second instance streams: what a GET there returns at that moment.
  const readsAsStreamed: Promise<{ seq: number; stored: number[] }>[] = [];
  watcher.on('run:event', ({ runId, event }: { runId: string; event: TimelineEvent }) => {
    if (runId !== id) return;
    readsAsStreamed.push(api<RunRecord>(second, 'GET', `/api/runs/${runId}`).then(({ body }) => ({ seq: event.seq, stored: (body.events ?? []).map((e) => e.seq) })));
  });
  const finished = new Promise<RunRecord>((resolve) => watcher.on('run:finished', (run: RunRecord) => run.id === id && resolve(run)));

  const started = await api<RunSummary>(first, 'POST', '/api/scenarios/late-duplicate/runs', { release: 'fenced' }, { authorization: `Bearer ${PRESENTER_SECRET}` });
  assert.equal(started.status, 202, JSON.stringify(started.body));
  id = started.body.id;
  // Readable on the other instance as soon as the start is answered.
  const early = await api<RunRecord>(second, 'GET', `/api/runs/${id}`);
  assert.equal(early.status, 200, JSON.stringify(early.body));
  assert.equal(early.body.scenario, 'late-duplicate');

  const streamed = await withDeadline(finished, 30_000, 'the run to finish, streamed to the other instance');
  assert.equal(streamed.status, 'finished', streamed.error ?? '');
  const reads = await withDeadline(Promise.all(readsAsStreamed), DEADLINE_MS, 'the reads made as events streamed');
  assert.ok(reads.length > 5, `events streamed to the second instance: ${reads.length}`);
  for (const { seq, stored } of reads) assert.ok(stored.includes(seq), `event ${seq} was readable on the other instance when it arrived there (stored: ${stored.join(',')})`);

  const fetched = await api<RunRecord>(second, 'GET', `/api/runs/${id}`);
  assert.equal(fetched.status, 200);
  assert.deepEqual(fetched.body, streamed, 'the other instance serves the whole record, as streamed at the end');

  const late = await connect(second, { cookie: await newViewerSession(second) });
  const latest = await send<RunRecord[]>(late, 'runs:watch', {});
  assert.deepEqual(latest.find((run) => run.scenario === 'late-duplicate'), streamed, "the late joiner on the other instance gets the run as its scenario's latest");
});

/** The presenter's cookie, as a browser gets it: by opening the presenter link on `site`. */
async function presenterCookie(site: Site): Promise<string> {
  const response = await fetch(`${site.url}/presenter?token=${encodeURIComponent(PRESENTER_SECRET)}`, { redirect: 'manual' });
  await response.arrayBuffer();
  assert.equal(response.status, 303);
  const setCookie = response.headers.get('set-cookie') ?? '';
  assert.match(setCookie, /SameSite=Strict/);
  return setCookie.split(';')[0] ?? '';
}

/** What a cookie is on `site`: the hall console over HTTP (200 or 403) and the role a socket is welcomed with. */
async function roleOn(site: Site, cookie: string): Promise<{ http: number; socket: string }> {
  const { status } = await api(site, 'GET', '/api/hall', undefined, { cookie });
  const socket = await connect(site, { cookie });
  const welcome = await send<HallWelcome>(socket, 'hall:join', {});
  socket.disconnect();
  return { http: status, socket: welcome.role };
}

test('a presenter signed in on one instance is the presenter on the other, and after the first restarts; a viewer or forged cookie is refused on both', async () => {
  let one = await startSite({ REDIS_URL: redis.url, REAPER_SWEEP_MS: '3600000' });
  const two = await startSite({ REDIS_URL: redis.url, REAPER_SWEEP_MS: '3600000' });
  try {
    const presenter = await presenterCookie(one);
    const asPresenter = { http: 200, socket: 'presenter' };
    assert.deepEqual(await roleOn(one, presenter), asPresenter, 'on the instance that signed it in');
    assert.deepEqual(await roleOn(two, presenter), asPresenter, 'on the other instance');

    const viewer = await newViewerSession(one);
    const [name, value] = [viewer.slice(0, viewer.indexOf('=')), viewer.slice(viewer.indexOf('=') + 1)];
    const [random, signature] = value.split('.');
    const expires = presenter.split('.')[2]!;
    const refused = { http: 403, socket: 'viewer' };
    for (const cookie of [viewer, `${name}=p.${random}.${expires}.${signature}`, `${presenter.slice(0, -4)}AAAA`]) {
      assert.deepEqual(await roleOn(one, cookie), refused, `${cookie} on the first instance`);
      assert.deepEqual(await roleOn(two, cookie), refused, `${cookie} on the second instance`);
    }

    // The first instance restarts (same secret, nothing kept in its memory): the browser is still the presenter there.
    await one.close();
    one = await startSite({ REDIS_URL: redis.url, REAPER_SWEEP_MS: '3600000' });
    assert.deepEqual(await roleOn(one, presenter), asPresenter, 'on the restarted instance');
  } finally {
    await one.close();
    await two.close();
  }
});
