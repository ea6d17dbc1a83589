/**
 * The hall's small parts on their own: signed session ids, the deck state's
 * versions, the activity counters on a fake clock, the rules of an audience run,
 * and the join URL.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { IncomingMessage } from 'node:http';
import { createHmac, randomBytes, scryptSync } from 'node:crypto';
import { Sessions, SESSION_COOKIE } from '../../server/session/sessions.ts';
import { HallDeck } from '../../server/hall/deckState.ts';
import { Activity, FIRING_WINDOW_MS } from '../../server/hall/activity.ts';
import { audienceRunRequest } from '../../server/hall/audienceRuns.ts';
import { joinInfo } from '../../server/hall/join.ts';
import { ClientError } from '../../server/errors.ts';

function request(headers: Record<string, string> = {}, address = '10.0.0.7'): IncomingMessage {
  return { headers, socket: { remoteAddress: address } } as unknown as IncomingMessage;
}

test('a session id is the server\'s: issued signed, kept when shown back, a forged or tampered one is a new session', () => {
  const viewerKey = randomBytes(32);
  const sessions = new Sessions('a-presenter-secret', { viewerKey });
  const first = sessions.identify(request());
  assert.ok(first.setCookie?.startsWith(`${SESSION_COOKIE}=${first.id};`));
  assert.equal(first.limitKey, 'anon:10.0.0.7', 'a client that never showed its cookie shares its address bucket');
  const again = sessions.identify(request({ cookie: `other=1; ${SESSION_COOKIE}=${first.id}` }));
  assert.deepEqual([again.id, again.limitKey, again.setCookie], [first.id, `session:${first.id}`, null]);
  const [random, signature] = first.id.split('.');
  for (const forged of [`${random}.AAAA${signature!.slice(4)}`, `x${random}.${signature}`, 'made-up', `${first.id}.extra`]) {
    assert.notEqual(sessions.identify(request({ cookie: `${SESSION_COOKIE}=${forged}` })).id, forged, forged);
  }
  // Instances behind one load balancer share the viewer key (through Redis), so each accepts the others' cookies,
  // whatever their presenter secret: the key owes nothing to it. A server with another key takes them for new sessions.
  assert.equal(new Sessions('another-presenter-secret', { viewerKey }).identify(request({ cookie: `${SESSION_COOKIE}=${first.id}` })).id, first.id, 'another instance with the same key');
  assert.notEqual(new Sessions('a-presenter-secret').identify(request({ cookie: `${SESSION_COOKIE}=${first.id}` })).id, first.id, 'a server with another key, the same secret');
});

test("a viewer's cookie is no test of the presenter secret: it is not signed with any key derived from it", () => {
  const secret = 'a-presenter-secret';
  const viewer = new Sessions(secret).identify(request()).id;
  const [random, signature] = viewer.split('.');
  // What an attacker holding a viewer cookie would compute for each guess of the secret, for the derivations a
  // server could use: none matches for the right guess, so checking a guess is no cheaper than guessing blind.
  const guesses = [
    createHmac('sha256', createHmac('sha256', secret).update('idem viewer session cookies').digest()),
    createHmac('sha256', secret),
    createHmac('sha256', scryptSync(secret, 'idem presenter session cookies', 32, { N: 2 ** 14, r: 8, p: 1 })),
  ];
  for (const hmac of guesses) assert.notEqual(hmac.update(random!).digest('base64url').slice(0, 22), signature);
});

test('the address a session is minted for: the socket peer, or the client a trusted proxy names (TRUST_PROXY)', () => {
  const forwarded = (sessions: Sessions) => sessions.identify(request({ 'x-forwarded-for': '203.0.113.9' }, '127.0.0.1')).limitKey;
  assert.equal(forwarded(new Sessions('a-presenter-secret')), 'anon:127.0.0.1', 'no proxy trusted: the header is ignored');
  assert.equal(forwarded(new Sessions('a-presenter-secret', { trustProxy: 'loopback' })), 'anon:203.0.113.9', 'behind a trusted proxy');
  assert.equal(forwarded(new Sessions('a-presenter-secret', { trustProxy: '10.0.0.0/8' })), 'anon:127.0.0.1', 'the peer is not a trusted proxy');
});

test('one address mints a bounded number of sessions: past the burst, cookie-less requests share the address bucket', () => {
  const sessions = new Sessions('a-presenter-secret', { now: () => 0 });
  let issued = 0;
  for (let i = 0; i < 2100; i++) if (sessions.identify(request({}, '198.51.100.4')).setCookie) issued++;
  assert.ok(issued <= 600, `${issued} sessions from one address`);
  assert.ok(issued >= 300, `a hall behind one NAT still gets its sessions (${issued})`);
  assert.ok(sessions.identify(request({}, '198.51.100.5')).setCookie, 'another address is not affected');
});

test('a presenter socket stops being the presenter when its cookie expires: the role is asked on every action', () => {
  let now = Date.now();
  const sessions = new Sessions('a-presenter-secret', { now: () => now });
  const { id } = sessions.startPresenter(request());
  // One request object, as a socket keeps its handshake's for every event it sends.
  const handshake = request({ cookie: `${SESSION_COOKIE}=${id}` });
  const viewer = sessions.identify(handshake);
  assert.equal(sessions.isPresenter(viewer), true);
  now += 12 * 60 * 60 * 1000 + 1000;
  assert.equal(sessions.isPresenter(sessions.identify(handshake)), false, 'expired: no longer the presenter');
});

test('the presenter is a session the server signed as one, or a request with the bearer secret; nothing else', () => {
  const sessions = new Sessions('a-presenter-secret');
  const viewer = sessions.identify(request());
  assert.equal(sessions.isPresenter(viewer), false);
  const { id, setCookie } = sessions.startPresenter(request());
  assert.match(setCookie, /HttpOnly/);
  assert.match(setCookie, /SameSite=Strict/);
  assert.notEqual(id, viewer.id, 'a fresh id, never one the browser held');
  assert.equal(sessions.isPresenter(sessions.identify(request({ cookie: `${SESSION_COOKIE}=${id}` }))), true);
  assert.equal(sessions.isPresenter(sessions.identify(request({ authorization: 'Bearer a-presenter-secret' }))), true);
  for (const authorization of ['Bearer a-presenter-secreT', 'a-presenter-secret', 'Basic a-presenter-secret', 'Bearer ']) {
    assert.equal(sessions.isPresenter(sessions.identify(request({ authorization }))), false, authorization);
  }
});

test('the presenter role is in what the server signs: another instance with the secret knows it, a viewer cookie never becomes one', (t) => {
  const sessions = new Sessions('a-presenter-secret');
  const { id } = sessions.startPresenter(request());
  const presenterOn = (s: Sessions, value: string) => s.isPresenter(s.identify(request({ cookie: `${SESSION_COOKIE}=${value}` })));
  // Another instance, or this one restarted: same secret, no shared memory.
  assert.equal(presenterOn(new Sessions('a-presenter-secret'), id), true, 'another instance with the same secret');
  assert.equal(presenterOn(new Sessions('another-secret'), id), false, 'a server with another secret');

  const [mark, random, expires, signature] = id.split('.');
  const viewer = sessions.identify(request()).id;
  const [viewerRandom, viewerSignature] = viewer.split('.');
  const later = (parseInt(expires!, 36) + 3600).toString(36);
  for (const forged of [
    viewer,
    `${mark}.${viewerRandom}.${expires}.${viewerSignature}`, // a viewer's signature in a presenter's shape
    `${mark}.${random}.${later}.${signature}`, // a later expiry under the old signature
    `${mark}.x${random}.${expires}.${signature}`,
    `${mark}.${random}.${expires}.AAAA${signature!.slice(4)}`,
    `${id}.extra`,
    `${random}.${signature}`,
  ]) {
    assert.equal(presenterOn(sessions, forged), false, forged);
  }

  // The role ends with the cookie's lifetime, even for a client that keeps the value longer.
  t.mock.timers.enable({ apis: ['Date'], now: Date.now() + 12 * 60 * 60 * 1000 + 1000 });
  assert.equal(presenterOn(sessions, id), false, 'expired');
});

test('the deck state: one version per change, none for a change that changes nothing', () => {
  const deck = new HallDeck();
  const seen: number[] = [];
  deck.on('changed', (state) => seen.push(state.version));
  deck.move({ h: 3, v: 0, f: -1 });
  deck.move({ h: 3, v: 0, f: -1 });
  deck.setOpen('lua-release', true);
  deck.setOpen('lua-release', true);
  deck.pickFault('journey', 'none');
  deck.setOpen('lua-release', false);
  assert.deepEqual(seen, [1, 2, 3, 4]);
  deck.reset();
  assert.deepEqual([deck.state.h, deck.state.open, deck.state.version], [0, [], 5], 'reset is a change too: the version keeps growing');
});

test('activity: taps in the last minute, and the sessions firing in the last seconds', () => {
  let now = 1_000_000;
  const activity = new Activity(() => now);
  activity.record('lua-release', 'a');
  activity.record('lua-release', 'a');
  activity.record('lua-release', 'b');
  activity.record('journey', 'a');
  assert.deepEqual(activity.firing(), { 'lua-release': 2, journey: 1 });
  now += FIRING_WINDOW_MS + 1;
  activity.record('lua-release', 'c');
  assert.deepEqual(activity.firing(), { 'lua-release': 1, journey: 0 });
  assert.deepEqual(activity.triggersLastMinute(), { 'lua-release': 4, journey: 1 });
  now += 61_000;
  assert.deepEqual(activity.triggersLastMinute(), { 'lua-release': 0, journey: 0 });
});

test('an audience run: the presenter picks the fault, the framework and the release; the panel\'s own buttons may pick the release', () => {
  const deck = new HallDeck();
  deck.setLive(true);
  const forbidden = (run: () => unknown) => assert.throws(run, (error: unknown) => error instanceof ClientError && error.code === 'forbidden');
  assert.deepEqual(audienceRunRequest(deck, 'attempt-1', {}), { fault: 'worker-killed', runtime: 'bullmq' });
  assert.deepEqual(audienceRunRequest(deck, 'attempt-1', { fault: 'worker-killed' }), { fault: 'worker-killed', runtime: 'bullmq' });
  forbidden(() => audienceRunRequest(deck, 'attempt-1', { fault: 'none' }));
  forbidden(() => audienceRunRequest(deck, 'attempt-1', { release: 'naive' }));
  forbidden(() => audienceRunRequest(deck, 'attempt-1', { runtime: 'celery' }));
  deck.pickFault('journey', 'none');
  assert.deepEqual(audienceRunRequest(deck, 'attempt-2', { fault: 'none' }), { fault: 'none', runtime: 'bullmq' });
  assert.deepEqual(audienceRunRequest(deck, 'ttl-safety-net', {}), {}, "the scenario's own fault where the presenter picks none");
  assert.deepEqual(audienceRunRequest(deck, 'late-duplicate', { release: 'fenced' }), { release: 'fenced' });

  // The presenter switches Act 1 to Celery: its first Celery fault comes with it, and the audience runs there.
  deck.pickRuntime('innocent-pattern', 'celery');
  assert.deepEqual([deck.runtimeOf('innocent-pattern'), deck.faultOf('innocent-pattern')], ['celery', 'result-unstorable']);
  assert.deepEqual(audienceRunRequest(deck, 'innocent-pattern', {}), { fault: 'result-unstorable', runtime: 'celery' });
  forbidden(() => audienceRunRequest(deck, 'innocent-pattern', { runtime: 'bullmq' }));
  deck.pickFault('innocent-pattern', 'on-success-raises');
  assert.throws(() => deck.pickFault('innocent-pattern', 'lock-lost'), (error: unknown) => error instanceof ClientError && error.code === 'bad_request', 'a BullMQ-only fault on Celery');
  assert.equal(deck.faultOf('innocent-pattern'), 'on-success-raises', 'a refused pick changes nothing');
  assert.equal(deck.runtimeOf('journey'), 'bullmq', 'each panel has its own framework');

  // No talk live: a reader alone runs what they picked (the release stays the presenter's).
  deck.setLive(false);
  assert.deepEqual(audienceRunRequest(deck, 'attempt-1', { fault: 'task-fails', runtime: 'celery' }), { fault: 'task-fails', runtime: 'celery' });
  forbidden(() => audienceRunRequest(deck, 'attempt-1', { release: 'naive' }));
  assert.equal(deck.isOpenToAudience('lua-release'), true);
  deck.setLive(true);
  assert.equal(deck.isOpenToAudience('lua-release'), false, 'a talk is live: the presenter opens the panels');
});

test('the join URL: PUBLIC_URL when set, else the listen address; loopback is flagged', () => {
  assert.deepEqual(joinInfo('https://talk.example.org/live', { host: '127.0.0.1', port: 3000 }), { url: 'https://talk.example.org/live', loopback: false });
  assert.deepEqual(joinInfo(undefined, { host: '127.0.0.1', port: 3000 }), { url: 'http://127.0.0.1:3000/', loopback: true });
  assert.deepEqual(joinInfo(undefined, { host: '192.168.1.20', port: 8080 }), { url: 'http://192.168.1.20:8080/', loopback: false });
  assert.equal(joinInfo(undefined, { host: '::1', port: 3000 }).url, 'http://[::1]:3000/');
  assert.equal(joinInfo('http://localhost:3000/', { host: '0.0.0.0', port: 3000 }).loopback, true);
  assert.match(joinInfo(undefined, { host: '0.0.0.0', port: 3000 }).url, /^http:\/\/[\d.]+:3000\/$/, 'the wildcard address becomes a reachable one');
});
