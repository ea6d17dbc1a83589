/**
 * The live pool channel over real socket.io connections to the whole site: two
 * viewers watch `main`, one allocates and double-releases, both see the same
 * replies, snapshot and warning; a late joiner gets the current state; garbage
 * and floods are answered with errors while the server keeps serving.
 */
import { after, before, beforeEach, test } from 'node:test';
import assert from 'node:assert/strict';
import { io, type Socket } from 'socket.io-client';
import type { Ack, ClientToServerEvents, DoubleReleaseWarning, PoolChange, ReleaseReply, ServerToClientEvents } from '../../server/protocol.ts';
import { GENEROUS_LIMITS, newViewerSession, openAllPanels, startSite, type Site } from '../support/site.ts';
import { occurrences, poolState } from '../support/redis.ts';
import { POOL_RELAY_CHANNEL } from '../../server/sockets/poolRelay.ts';

type Client = Socket<ServerToClientEvents, ClientToServerEvents>;
/** A socket that may send anything, as a hostile or broken client would. */
type RawClient = Socket;

/** A safety net against a hang, not a way to wait: every wait below ends on an event. */
const EVENT_TIMEOUT_MS = 10_000;

/** A socket of a new viewer (its own session, as a phone that loaded the deck has). */
async function connect(site: Site): Promise<Client> {
  const cookie = await newViewerSession(site);
  const socket: Client = io(site.url, { transports: ['websocket'], forceNew: true, reconnection: false, extraHeaders: { cookie } });
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', () => resolve());
    socket.once('connect_error', reject);
  });
  return socket;
}

/** The next `event` on `socket` that satisfies `matches`; listen before acting. */
function next<E extends keyof ServerToClientEvents>(
  socket: Client,
  event: E,
  matches: (...args: Parameters<ServerToClientEvents[E]>) => boolean = () => true,
): Promise<Parameters<ServerToClientEvents[E]>[0]> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      socket.off(event, listener as never);
      reject(new Error(`no ${event} within ${EVENT_TIMEOUT_MS} ms`));
    }, EVENT_TIMEOUT_MS);
    const listener = (...args: Parameters<ServerToClientEvents[E]>) => {
      if (!matches(...args)) return;
      clearTimeout(timer);
      socket.off(event, listener as never);
      resolve(args[0]);
    };
    socket.on(event, listener as never);
  });
}

type AckOf<E extends keyof ClientToServerEvents> = Parameters<Parameters<ClientToServerEvents[E]>[1]>[0];

/** Sends `event` and resolves with the server's ack; with no `payload`, sends the ack function alone. */
async function send<E extends keyof ClientToServerEvents>(socket: Socket, event: E, ...payload: unknown[]): Promise<AckOf<E>> {
  return (await (socket as RawClient).timeout(EVENT_TIMEOUT_MS).emitWithAck(event, ...payload)) as AckOf<E>;
}

function ok<T>(ack: Ack<T>): T {
  assert.ok(ack.ok, `expected ok, got ${JSON.stringify(ack)}`);
  return ack.data;
}

function assertError(ack: Ack<unknown>, error: string): void {
  assert.equal(ack.ok, false, `expected ${error}, got ${JSON.stringify(ack).slice(0, 200)}`);
  if (ack.ok) return;
  assert.equal(ack.error, error);
  assert.equal(typeof ack.message, 'string');
  assert.ok(ack.message.length > 0);
}

let site: Site;
let a: Client;
let b: Client;
const opened: Socket[] = [];

before(async () => {
  // Generous limits here: the garbage tests alone send dozens of actions from one socket.
  site = await startSite(GENEROUS_LIMITS);
  openAllPanels(site);
  a = await connect(site);
  b = await connect(site);
  opened.push(a, b);
  for (const viewer of [a, b]) ok(await send(viewer, 'pool:watch', { pool: 'main' }));
});

after(async () => {
  for (const socket of opened) socket.disconnect();
  await site?.close();
});

beforeEach(async () => {
  // Reset, and let both viewers see the reset's snapshot, so no stale event is in flight when a test starts.
  const seen = [a, b].map((viewer) => next(viewer, 'pool:changed', (change) => change.actions.some((action) => action.kind === 'reset')));
  await site.actions.reset({});
  await Promise.all(seen);
});

test('one viewer allocates and double-releases: both viewers see the replies, one snapshot with the executor once, and the warning', async () => {
  const allocated = [a, b].map((viewer) => next(viewer, 'pool:changed', (change) => change.actions.some((action) => action.kind === 'allocated')));
  const allocation = ok(await send(a, 'pool:allocate', { evalId: 'eval-sock-1' }));
  assert.equal(allocation.executor, 'executor-1');
  assert.equal(allocation.previousOwner, null);
  for (const change of (await Promise.all(allocated)) as PoolChange[]) {
    assert.equal(change.busy['executor-1'], 'eval-sock-1', 'the snapshot and the click that made it travel together');
    assert.equal(change.actions.length, 1);
    const [action] = change.actions;
    assert.ok(action?.kind === 'allocated');
    assert.deepEqual(action.allocation, allocation);
  }

  // Listen for everything the double release will send, then send it.
  const changed = [a, b].map((viewer) => next(viewer, 'pool:changed', (change) => change.actions.length > 0));
  const releases = ok(await send(a, 'pool:double-release', { executor: 'executor-1' }));

  assert.deepEqual(releases.map((r) => r.status), ['released', 'already_in_pool']);
  assert.deepEqual(releases.map((r) => r.reply.slice(0, 3)), [[1, 1, 'released'], [0, 0, 'already_in_pool']]);
  assert.deepEqual(releases.map((r) => r.doubleRelease), [false, true]);

  for (const snapshot of (await Promise.all(changed)) as PoolChange[]) {
    assert.equal(snapshot.pool, 'main');
    // The click travels with the pool it left: both replies, and executor-1 in the list once.
    assert.equal(snapshot.actions.length, 1);
    const [action] = snapshot.actions;
    assert.ok(action?.kind === 'released');
    assert.deepEqual(action.releases, releases, 'every viewer sees the same two replies');
    assert.equal(occurrences(snapshot.available, 'executor-1'), 1, 'executor-1 is in the pool once');
    assert.equal(snapshot.available.length, 4);
    assert.deepEqual(snapshot.busy, {});
  }
  const warned = ((await Promise.all(changed)) as PoolChange[]).map((change) => {
    assert.equal(change.doubleReleases.length, 1, 'the warning travels with the change');
    return change.doubleReleases[0]!;
  });
  for (const warning of warned as DoubleReleaseWarning[]) {
    assert.equal(warning.message, 'Double release detected');
    assert.equal(warning.pool, 'main');
    assert.equal(warning.executor, 'executor-1');
    assert.ok(warning.sinceLastReleaseMs >= 0 && warning.sinceLastReleaseMs < 1000);
  }

  // A viewer who joins late gets the state as it is now.
  const late = await connect(site);
  opened.push(late);
  const current = ok(await send(late, 'pool:watch', {}));
  assert.deepEqual(poolState(current), poolState(await site.actions.pools.snapshot('main')));
  assert.equal(occurrences(current.available, 'executor-1'), 1);
  assert.deepEqual(current.busy, {});
  late.disconnect();
});

test('a single release is broadcast as one reply; a second one is already_in_pool', async () => {
  ok(await send(a, 'pool:allocate', { evalId: 'eval-sock-2' }));
  const acted = next(b, 'pool:changed', (change) => change.actions.some((action) => action.kind === 'released'));
  const first = ok(await send(a, 'pool:release', { executor: 'executor-1', pool: 'main' }));
  assert.equal(first.status, 'released');
  const [action] = (await acted).actions;
  assert.ok(action?.kind === 'released');
  assert.deepEqual(action.releases, [first]);
  const second: ReleaseReply = ok(await send(b, 'pool:release', { executor: 'executor-1' }));
  assert.equal(second.status, 'already_in_pool');
});

test('the acting viewer is answered before the hall hears of its click; in a burst, each click is announced once, in order', async () => {
  const order: string[] = [];
  const heard = next(a, 'pool:changed', (change) => change.actions.length > 0);
  const heardByB = next(b, 'pool:changed', (change) => change.actions.length > 0);
  a.on('pool:changed', function onChange(change) {
    if (change.actions.length === 0) return;
    order.push('broadcast');
    a.off('pool:changed', onChange);
  });
  // The ack's own callback, not a promise of it: a promise would settle after every frame of the same read.
  const answered = new Promise<Ack<unknown>>((resolve, reject) =>
    (a as RawClient).timeout(EVENT_TIMEOUT_MS).emit('pool:allocate', { evalId: 'eval-order' }, (error: Error | null, ack: Ack<unknown>) => {
      order.push('ack');
      if (error) reject(error);
      else resolve(ack);
    }),
  );
  ok(await answered);
  await Promise.all([heard, heardByB]);
  assert.deepEqual(order, ['ack', 'broadcast']);

  // Clicks sent in one go may share a message (the server folds what lands in one tick): each is announced once.
  const messages: PoolChange[] = [];
  const collect = (change: PoolChange) => messages.push(change);
  b.on('pool:changed', collect);
  const released = next(b, 'pool:changed', (change) => change.available.length === 4);
  const acks = await Promise.all([
    send(a, 'pool:allocate', { evalId: 'eval-burst-1' }),
    send(a, 'pool:allocate', { evalId: 'eval-burst-2' }),
    send(a, 'pool:release', { executor: 'executor-1' }),
  ]);
  for (const ack of acks) ok(ack as Ack<unknown>);
  ok(await send(a, 'pool:release', { executor: 'executor-2' }));
  ok(await send(a, 'pool:release', { executor: 'executor-3' }));
  await released;
  b.off('pool:changed', collect);
  const clicks = messages.flatMap((change) => change.actions);
  assert.equal(clicks.length, 5, 'every click is announced once');
  assert.ok(messages.length <= 5);
  assert.deepEqual(
    clicks.map((action) => (action.kind === 'allocated' ? action.allocation.evalId : action.kind === 'released' ? action.releases[0]!.executor : action.kind)),
    ['eval-burst-1', 'eval-burst-2', 'executor-1', 'executor-2', 'executor-3'],
  );
});

test("pool:release and pool:double-release with the eval's token: the fenced release, a late one is stale_release", async () => {
  const allocation = ok(await send(a, 'pool:allocate', { evalId: 'eval-sock-fenced' }));
  const both = ok(await send(a, 'pool:double-release', { executor: allocation.executor, evalId: allocation.evalId, token: allocation.token }));
  assert.deepEqual(both.map((r) => r.status).sort(), ['released', 'stale_release'], 'one of the two callbacks frees it, the other is refused');
  const before = poolState(await site.actions.pools.snapshot('main'));
  const late = ok(await send(a, 'pool:release', { executor: allocation.executor, evalId: allocation.evalId, token: allocation.token }));
  assert.deepEqual(late.reply, ['stale_release', 0]);
  assert.deepEqual(poolState(await site.actions.pools.snapshot('main')), before, 'a stale release changes nothing');
  assert.equal(occurrences(before.available, allocation.executor), 1);
  assertError(await send(a, 'pool:release', { executor: allocation.executor, token: 'x' }), 'bad_request');
  assertError(await send(a, 'pool:release', { executor: allocation.executor, evalId: allocation.evalId, token: 0 }), 'bad_request');
  assertError(await send(a, 'pool:release', { executor: allocation.executor, token: allocation.token }), 'bad_request'); // the token without its eval
});

test('watching an unknown or malformed pool is a bad_request; acting on a scenario pool too', async () => {
  assertError(await send(a, 'pool:watch', { pool: 'nope' }), 'bad_request');
  assertError(await send(a, 'pool:watch', { pool: 'NOPE!' }), 'bad_request');
  assertError(await send(a, 'pool:allocate', { evalId: 'e', pool: 'edge-case-test' }), 'bad_request');
  assertError(await send(a, 'pool:release', { executor: 'executor-99' }), 'bad_request');
});

test('garbage payloads get bad_request, change nothing, and the server keeps serving', async () => {
  const raw: RawClient = await connect(site);
  opened.push(raw);
  const before = poolState(await site.actions.pools.snapshot('main'));
  const huge = Object.fromEntries(Array.from({ length: 600 }, (_, i) => [`key${i}`, 'x'.repeat(10)])); // ~12 KB, under the 16 KB frame limit
  const payloads: [string, unknown][] = [
    ['a number', 42],
    ['a string', 'executor-1'],
    ['an array', ['executor-1']],
    ['a huge object', huge],
    ['wrong types', { evalId: 5, executor: 5, pool: 5 }],
    ['extra fields', { evalId: 'e', executor: 'executor-1', admin: true }],
    ['a nested object', { evalId: { $gt: '' }, executor: { url: 'executor-1' } }],
  ];
  for (const event of ['pool:watch', 'pool:allocate', 'pool:release', 'pool:double-release']) {
    for (const [name, payload] of payloads) {
      const ack = (await send(raw, event as keyof ClientToServerEvents, payload)) as Ack<unknown>;
      assert.equal(ack.ok, false, `${event} with ${name}`);
      assertError(ack, 'bad_request');
    }
    // The same garbage with no ack function: nothing to answer, nothing to crash.
    raw.emit(event, 42);
    raw.emit(event, ['x']);
  }
  raw.emit('no-such-event', { evalId: 'e' });

  // Still serving, this socket and the others, and the pool is as it was.
  ok(await send(raw, 'pool:watch', {}));
  ok(await send(a, 'pool:watch', {}));
  assert.deepEqual(poolState(await site.actions.pools.snapshot('main')), before);
  raw.disconnect();
});

test('an event with an ack but no payload is answered (the ack is not taken for the payload)', async () => {
  const raw: RawClient = await connect(site);
  opened.push(raw);
  const watched = await send(raw, 'pool:watch');
  assert.equal(ok(watched).pool, 'main');
  assertError(await send(raw, 'pool:allocate'), 'bad_request');
  raw.disconnect();
});

test('an action sent without an ack still acts, and every viewer sees it', async () => {
  const raw: RawClient = await connect(site);
  opened.push(raw);
  const acted = next(a, 'pool:changed', (change) => change.actions.some((action) => action.kind === 'allocated' && action.allocation.evalId === 'eval-no-ack'));
  raw.emit('pool:allocate', { evalId: 'eval-no-ack' });
  const [action] = (await acted).actions;
  assert.ok(action?.kind === 'allocated');
  assert.equal((await site.actions.pools.snapshot('main')).busy[action.allocation.executor], 'eval-no-ack');
  raw.disconnect();
});

test('a message over the 16 KB frame limit drops that socket only', async () => {
  const raw: RawClient = await connect(site);
  opened.push(raw);
  const before = poolState(await site.actions.pools.snapshot('main'));
  const dropped = new Promise<string>((resolve) => raw.once('disconnect', (reason) => resolve(reason)));
  raw.emit('pool:allocate', { evalId: 'e', pad: 'x'.repeat(20_000) });
  assert.equal(await dropped, 'transport close');
  ok(await send(a, 'pool:watch', {}));
  assert.deepEqual(poolState(await site.actions.pools.snapshot('main')), before);
});

test('a viewer over its rate limit gets rate_limited; other viewers and watching are not limited', async () => {
  const limitedSite = await startSite({ VIEWER_ACTIONS_PER_SECOND: '0.1', VIEWER_ACTION_BURST: '2' });
  openAllPanels(limitedSite);
  const eager = await connect(limitedSite);
  const other = await connect(limitedSite);
  try {
    ok(await send(eager, 'pool:allocate', { evalId: 'eval-1' }));
    ok(await send(eager, 'pool:release', { executor: 'executor-1' }));
    const before = poolState(await limitedSite.actions.pools.snapshot('main'));
    assertError(await send(eager, 'pool:allocate', { evalId: 'eval-2' }), 'rate_limited');
    assertError(await send(eager, 'pool:double-release', { executor: 'executor-1' }), 'rate_limited');
    assert.deepEqual(poolState(await limitedSite.actions.pools.snapshot('main')), before, 'a refused action changes nothing');
    ok(await send(eager, 'pool:watch', {}));
    ok(await send(other, 'pool:allocate', { evalId: 'eval-3' }));
  } finally {
    eager.disconnect();
    other.disconnect();
    await limitedSite.close();
  }
});

test('garbage on the channel that relays pool changes between instances is logged and ignored; viewers still get every change', async () => {
  const before = site.logLines.length;
  const seen = [a, b].map((viewer) => next(viewer, 'pool:changed', (change) => change.actions.some((action) => action.kind === 'allocated')));
  for (const garbage of ['not json', '{"from":"another-instance"}', '{"from":"another-instance","change":{"pool":7}}', '[]']) {
    await site.redis.publish(POOL_RELAY_CHANNEL, garbage);
  }
  ok(await send(a, 'pool:allocate', { evalId: 'eval-after-garbage' }));
  await Promise.all(seen);
  const warnings = site.logLines.slice(before).map((line) => JSON.parse(line) as { msg: string }).filter((entry) => entry.msg.startsWith('pool relay:'));
  assert.equal(warnings.length, 4, JSON.stringify(warnings));
});
