/**
 * The hall's roles over real HTTP and real sockets: the presenter link and its
 * cookie, the bearer header for scripts, `forbidden` for every presenter action a
 * viewer tries (nothing changes), panels closed to the audience until the
 * presenter opens them, limits per viewer session shared by all its sockets, the
 * deck state a late joiner gets, two presenter windows, and bad input.
 */
import { after, before, beforeEach, test } from 'node:test';
import assert from 'node:assert/strict';
import { io, type Socket } from 'socket.io-client';
import type { Ack, DeckState, HallConsole, HallWelcome } from '../../server/protocol.ts';
import { SESSION_COOKIE } from '../../server/session/sessions.ts';
import { newViewerSession, PRESENTER_SECRET, startSite, type Site } from '../support/site.ts';
import { poolState } from '../support/redis.ts';

const EVENT_TIMEOUT_MS = 10_000;
const BEARER = { authorization: `Bearer ${PRESENTER_SECRET}` };

let site: Site;
const sockets: Socket[] = [];

before(async () => {
  site = await startSite({ VIEWER_ACTIONS_PER_SECOND: '0.1', VIEWER_ACTION_BURST: '3', PANEL_ACTIONS_PER_SECOND: '0.1', PANEL_ACTION_BURST: '8' });
});

after(async () => {
  for (const socket of sockets) socket.close();
  await site?.close();
});

beforeEach(async () => {
  await site.hall.resetEverything(site.actions, ['main']);
  // A presenter acted: a talk is live, so the presenter's gating applies (with none, every panel is open).
  const hall = await fetch(`${site.url}/api/hall`, { headers: BEARER });
  assert.equal(((await hall.json()) as { state: DeckState }).state.live, true);
});

/** The presenter's cookie, got the way a browser gets it: by opening the presenter link. */
async function presenterCookie(): Promise<string> {
  const response = await fetch(`${site.url}/presenter?token=${encodeURIComponent(PRESENTER_SECRET)}`, { redirect: 'manual' });
  assert.equal(response.status, 303);
  const setCookie = response.headers.get('set-cookie') ?? '';
  return setCookie.split(';')[0] ?? '';
}

async function connect(headers: Record<string, string>): Promise<Socket> {
  const socket = io(site.url, { transports: ['websocket'], forceNew: true, reconnection: false, extraHeaders: headers });
  sockets.push(socket);
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', () => resolve());
    socket.once('connect_error', reject);
  });
  return socket;
}

async function send<T>(socket: Socket, event: string, payload: unknown): Promise<Ack<T>> {
  return (await socket.timeout(EVENT_TIMEOUT_MS).emitWithAck(event, payload)) as Ack<T>;
}

function assertError(ack: Ack<unknown>, error: string): void {
  assert.equal(ack.ok, false, `expected ${error}, got ${JSON.stringify(ack).slice(0, 200)}`);
  if (!ack.ok) assert.equal(ack.error, error);
}

function nextEvent<T>(socket: Socket, event: string): Promise<T> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no ${event} within ${EVENT_TIMEOUT_MS} ms`)), EVENT_TIMEOUT_MS);
    socket.once(event, (value: T) => {
      clearTimeout(timer);
      resolve(value);
    });
  });
}

test('the presenter link sets an HttpOnly, SameSite=Strict session cookie and redirects to the deck; a wrong token is refused', async () => {
  const response = await fetch(`${site.url}/presenter?token=${encodeURIComponent(PRESENTER_SECRET)}`, { redirect: 'manual' });
  assert.equal(response.status, 303);
  assert.equal(response.headers.get('location'), './');
  const setCookie = response.headers.get('set-cookie') ?? '';
  assert.match(setCookie, new RegExp(`^${SESSION_COOKIE}=`));
  assert.match(setCookie, /HttpOnly/);
  assert.match(setCookie, /SameSite=Strict/);
  assert.ok(!setCookie.includes(PRESENTER_SECRET), 'the cookie is a session id, not the token');

  for (const query of ['', '?token=', '?token=wrong-token-123', `?token=${PRESENTER_SECRET}x`, `?token=${PRESENTER_SECRET}&token=${PRESENTER_SECRET}`]) {
    const refused = await fetch(`${site.url}/presenter${query}`, { redirect: 'manual' });
    assert.equal(refused.status, 403, query);
    assert.ok(!(refused.headers.get('set-cookie') ?? '').includes('Strict'), 'no presenter cookie for a wrong link');
  }
});

test('a viewer gets a Lax session cookie with its first request; a forged or tampered one is replaced', async () => {
  const first = await fetch(`${site.url}/healthz`);
  const setCookie = first.headers.get('set-cookie') ?? '';
  assert.match(setCookie, /HttpOnly/);
  assert.match(setCookie, /SameSite=Lax/);
  const cookie = setCookie.split(';')[0] ?? '';
  const again = await fetch(`${site.url}/healthz`, { headers: { cookie } });
  assert.equal(again.headers.get('set-cookie'), null, 'a valid session is kept');
  const forged = await fetch(`${site.url}/healthz`, { headers: { cookie: `${SESSION_COOKIE}=made-up.signature` } });
  assert.match(forged.headers.get('set-cookie') ?? '', new RegExp(`^${SESSION_COOKIE}=`), 'a made-up id is not a session');
});

test('presenter actions over HTTP: the presenter cookie and the bearer header pass, a viewer gets 403 forbidden and nothing changes', async () => {
  await fetch(`${site.url}/api/allocate`, { method: 'POST', headers: { ...BEARER, 'content-type': 'application/json' }, body: '{"evalId":"e-1"}' });
  const before = poolState(await site.actions.pools.snapshot('main'));
  const viewer = await newViewerSession(site);
  const attempts: Record<string, string>[] = [{}, { cookie: viewer }, { cookie: viewer, 'x-role': 'presenter' }, { authorization: 'Bearer wrong-secret' }];
  for (const headers of attempts) {
    const refused = await fetch(`${site.url}/api/pool/reset`, { method: 'POST', headers: { ...headers, 'content-type': 'application/json' }, body: '{}' });
    assert.equal(refused.status, 403);
    assert.equal(((await refused.json()) as { error: string }).error, 'forbidden');
    const everything = await fetch(`${site.url}/api/hall/reset`, { method: 'POST', headers: { ...headers, 'content-type': 'application/json' }, body: '' });
    assert.equal(everything.status, 403);
  }
  assert.deepEqual(poolState(await site.actions.pools.snapshot('main')), before, 'nothing changed');

  const cookie = await presenterCookie();
  const byCookie = await fetch(`${site.url}/api/pool/reset`, { method: 'POST', headers: { cookie, 'content-type': 'application/json' }, body: '{}' });
  assert.equal(byCookie.status, 200);
  const byBearer = await fetch(`${site.url}/api/hall`, { headers: BEARER });
  assert.equal(byBearer.status, 200);
  const hall = (await byBearer.json()) as { state: DeckState; join: { url: string } };
  assert.equal(hall.state.h, 0);
  assert.ok(!JSON.stringify(hall).includes(PRESENTER_SECRET), 'the token is in no answer');
});

test('presenter actions over sockets: a viewer gets forbidden for each and the deck and pools stay as they are', async () => {
  const viewer = await connect({ cookie: await newViewerSession(site) });
  const welcome = await send<HallWelcome>(viewer, 'hall:join', {});
  assert.ok(welcome.ok);
  assert.equal(welcome.data.role, 'viewer');
  const before = { deck: site.hall.deck.state, pool: poolState(await site.actions.pools.snapshot('main')) };
  const attempts: [string, unknown][] = [
    ['deck:move', { h: 5, v: 0, f: -1 }],
    ['panel:open', { panel: 'lua-release', open: true }],
    ['panel:pick-fault', { panel: 'journey', fault: 'none' }],
    ['panel:pick-runtime', { panel: 'innocent-pattern', runtime: 'celery' }],
    ['pool:reset', {}],
    ['hall:reset-everything', {}],
    ['hall:console', {}],
  ];
  for (const [event, payload] of attempts) assertError(await send(viewer, event, payload), 'forbidden');
  // Whatever the client claims about itself.
  assertError(await send(viewer, 'deck:move', { h: 5, v: 0, f: -1, role: 'presenter' }), 'bad_request');
  assert.deepEqual({ deck: site.hall.deck.state, pool: poolState(await site.actions.pools.snapshot('main')) }, before);
});

test('the presenter moves the hall: every follower gets one deck:changed, a late joiner lands on it', async () => {
  const presenter = await connect({ cookie: await presenterCookie() });
  const presenterWelcome = await send<HallWelcome>(presenter, 'hall:join', {});
  assert.ok(presenterWelcome.ok);
  assert.equal(presenterWelcome.data.role, 'presenter');
  const follower = await connect({ cookie: await newViewerSession(site) });
  assert.ok((await send(follower, 'hall:join', {})).ok);

  const seen: DeckState[] = [];
  follower.on('deck:changed', (state: DeckState) => seen.push(state));
  const changed = nextEvent<DeckState>(follower, 'deck:changed');
  const moved = await send<DeckState>(presenter, 'deck:move', { h: 3, v: 0, f: 1 });
  assert.ok(moved.ok);
  const state = await changed;
  assert.deepEqual([state.h, state.v, state.f], [3, 0, 1]);
  assert.equal(state.version, moved.data.version);

  const late = await connect({ cookie: await newViewerSession(site) });
  const lateWelcome = await send<HallWelcome>(late, 'hall:join', {});
  assert.ok(lateWelcome.ok);
  assert.deepEqual([lateWelcome.data.state.h, lateWelcome.data.state.f, lateWelcome.data.state.version], [3, 1, state.version]);
  // The same position again is no change and no message.
  assert.ok((await send(presenter, 'deck:move', { h: 3, v: 0, f: 1 })).ok);
  assert.ok((await send(late, 'hall:follow', { following: true, h: 3, v: 0 })).ok); // a round trip after it
  assert.equal(seen.length, 1, 'one message per change');
});

test('two presenter windows: the last to act drives, and the other is told', async () => {
  const cookie = await presenterCookie();
  const first = await connect({ cookie });
  const second = await connect({ cookie });
  assert.ok((await send(first, 'deck:move', { h: 1, v: 0, f: -1 })).ok);
  const told = nextEvent<{ at: number }>(first, 'hall:superseded');
  assert.ok((await send(second, 'deck:move', { h: 2, v: 0, f: -1 })).ok);
  assert.equal(typeof (await told).at, 'number');
  assert.equal(site.hall.deck.state.h, 2);
});

test('a closed panel refuses audience taps; opened, it accepts them within the limits; the presenter always goes through', async () => {
  const viewer = await connect({ cookie: await newViewerSession(site) });
  const before = poolState(await site.actions.pools.snapshot('main'));
  assertError(await send(viewer, 'pool:allocate', { evalId: 'e-closed' }), 'forbidden');
  assertError(await send(viewer, 'run:start', { scenario: 'attempt-3' }), 'forbidden');
  const http = await fetch(`${site.url}/api/allocate`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"evalId":"e-x"}' });
  assert.equal(http.status, 403);
  assert.deepEqual(poolState(await site.actions.pools.snapshot('main')), before, 'a refused tap changes nothing');

  const presenter = await connect(BEARER);
  assert.ok((await send(presenter, 'panel:open', { panel: 'lua-release', open: true })).ok);
  const allocated = await send<{ executor: string }>(viewer, 'pool:allocate', { evalId: 'e-open' });
  assert.ok(allocated.ok, JSON.stringify(allocated));
  // Burst 3: two more, then slow down.
  assert.ok((await send(viewer, 'pool:release', { executor: allocated.data.executor })).ok);
  assert.ok((await send(viewer, 'pool:allocate', { evalId: 'e-open-2' })).ok);
  const refused = await send(viewer, 'pool:allocate', { evalId: 'e-open-3' });
  assertError(refused, 'rate_limited');
  if (!refused.ok) assert.match(refused.message, /slow down/i);
  // The presenter is never limited: five taps in a row each get an executor until the pool is empty, then pool_empty.
  const free = (await site.actions.pools.snapshot('main')).available.length;
  const outcomes: string[] = [];
  for (let i = 0; i < 5; i++) {
    const reply = await send(presenter, 'pool:allocate', { evalId: `p-${i}` });
    outcomes.push(reply.ok ? 'ok' : reply.error);
  }
  assert.deepEqual(outcomes, Array.from({ length: 5 }, (_, i) => (i < free ? 'ok' : 'pool_empty')), `with ${free} executors free`);
  assert.ok((await send(presenter, 'pool:reset', {})).ok);

  // A viewer runs the presenter's fault, never one of its own.
  assert.ok((await send(presenter, 'panel:open', { panel: 'journey', open: true })).ok);
  const other = await connect({ cookie: await newViewerSession(site) });
  assertError(await send(other, 'run:start', { scenario: 'attempt-1', fault: 'none' }), 'forbidden');
  assertError(await send(other, 'run:start', { scenario: 'attempt-1', release: 'naive' }), 'forbidden');

  assert.ok((await send(presenter, 'panel:open', { panel: 'lua-release', open: false })).ok);
  assertError(await send(other, 'pool:allocate', { evalId: 'e-closed-again' }), 'forbidden');
});

test('many sockets of one session share that session limit; another session has its own', async () => {
  const presenter = await connect(BEARER);
  assert.ok((await send(presenter, 'panel:open', { panel: 'lua-release', open: true })).ok);
  const cookie = await newViewerSession(site);
  const tabs = await Promise.all(Array.from({ length: 5 }, () => connect({ cookie })));
  const results = [];
  for (const [i, tab] of tabs.entries()) results.push(await send(tab, 'pool:release', { executor: 'executor-1', pool: 'main' }).then((ack) => (ack.ok ? 'ok' : ack.error), () => `timeout-${i}`));
  assert.deepEqual(results, ['ok', 'ok', 'ok', 'rate_limited', 'rate_limited'], 'burst 3 for the session, whatever the socket');
  // HTTP counts against the same session.
  const http = await fetch(`${site.url}/api/release`, { method: 'POST', headers: { cookie, 'content-type': 'application/json' }, body: '{"executor":"executor-1"}' });
  assert.equal(http.status, 429);
  const otherViewer = await connect({ cookie: await newViewerSession(site) });
  assert.ok((await send(otherViewer, 'pool:release', { executor: 'executor-1' })).ok, 'another session is not held back');
  // Sockets with no cookie at all share one bucket per address: dropping the cookie buys nothing.
  const anonymous = await Promise.all(Array.from({ length: 4 }, () => connect({})));
  const anonymousResults = [];
  for (const socket of anonymous) anonymousResults.push(await send(socket, 'pool:release', { executor: 'executor-1' }).then((ack) => (ack.ok ? 'ok' : ack.error)));
  assert.deepEqual(anonymousResults, ['ok', 'ok', 'ok', 'rate_limited']);
});

test('the panel budget caps the whole audience, and the console counts it', async () => {
  const presenter = await connect(BEARER);
  assert.ok((await send(presenter, 'panel:open', { panel: 'lua-release', open: true })).ok);
  const outcomes: string[] = [];
  for (let i = 0; i < 5; i++) {
    const viewer = await connect({ cookie: await newViewerSession(site) });
    for (let j = 0; j < 2; j++) outcomes.push(await send(viewer, 'pool:release', { executor: 'executor-2' }).then((ack) => (ack.ok ? 'ok' : ack.error)));
  }
  assert.equal(outcomes.filter((outcome) => outcome === 'ok').length, 8, 'panel burst 8 across all viewers');
  assert.equal(outcomes.filter((outcome) => outcome === 'rate_limited').length, 2);
  const numbers = await send<HallConsole>(presenter, 'hall:console', {});
  assert.ok(numbers.ok);
  assert.equal(numbers.data.triggersLastMinute['lua-release'], 8);
  assert.equal(numbers.data.firing['lua-release'], 4 + 1 - 1, 'four sessions fired (the fifth was refused)');
  assert.ok(numbers.data.pools.some((pool) => pool.pool === 'main'));
  assert.match(numbers.data.warnings.join(' '), /loopback/);
});

test('bad input on the hall events is a typed error and changes nothing', async () => {
  const presenter = await connect(BEARER);
  const before = site.hall.deck.state;
  const cases: [string, unknown][] = [
    ['deck:move', { h: -1, v: 0, f: 0 }],
    ['deck:move', { h: 1.5, v: 0, f: 0 }],
    ['deck:move', { h: '1', v: 0, f: 0 }],
    ['deck:move', { h: 1 }],
    ['deck:move', 'slide 3'],
    ['panel:open', { panel: 'nope', open: true }],
    ['panel:open', { panel: 'lua-release', open: 'yes' }],
    ['panel:pick-fault', { panel: 'journey', fault: 'meteor' }],
    // A fault of the other framework: Act 1 runs on BullMQ here, and `on-success-raises` is Celery's.
    ['panel:pick-fault', { panel: 'innocent-pattern', fault: 'on-success-raises' }],
    ['panel:pick-runtime', { panel: 'lua-release', runtime: 'celery' }],
    ['panel:pick-runtime', { panel: 'journey', runtime: 'rq' }],
    ['panel:pick-runtime', { panel: 'journey' }],
    ['hall:reset-everything', { now: true }],
    ['hall:follow', { following: 'maybe', h: 0, v: 0 }],
    ['hall:join', { role: 'presenter' }],
  ];
  for (const [event, payload] of cases) assertError(await send(presenter, event, payload), 'bad_request');
  assert.deepEqual(site.hall.deck.state, before);
  const health = await fetch(`${site.url}/healthz`);
  assert.equal(health.status, 200, 'the server keeps serving');
});
