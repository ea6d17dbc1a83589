/**
 * Redis dies under the running site (SIGKILL to its private redis-server): the
 * server restarts it on the same port with a new password, rebuilds the pools,
 * switches expiry notifications back on, reconnects its task runtime, fails the
 * run caught in the outage, and tells every viewer when Redis is gone and when it
 * is back. No request waits for Redis longer than its timeout meanwhile.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { io, type Socket } from 'socket.io-client';
import type { AllocateReply, PoolSnapshot, RedisState, RunRecord, RunSummary } from '../../server/protocol.ts';
import { DECK_KEY } from '../../server/hall/deckStore.ts';
import { checkInvariant } from '../../server/pool/invariant.ts';
import { PRESENTER_SECRET, api, openAllPanels, startSite, type Site } from '../support/site.ts';

const PRESENTER = { authorization: `Bearer ${PRESENTER_SECRET}` };
import { withDeadline } from '../support/deadline.ts';
import { pollUntil } from '../support/redis.ts';
import { isAlive } from '../support/processes.ts';

const RECOVERY_DEADLINE_MS = 45_000;

let site: Site;
let viewer: Socket;
const states: RedisState[] = [];
const snapshots: PoolSnapshot[] = [];

before(async () => {
  site = await startSite({ TASK_WORKERS: '2', REAPER_SWEEP_MS: '500', VIEWER_ACTION_BURST: '1000', VIEWER_ACTIONS_PER_SECOND: '1000' });
  openAllPanels(site);
  viewer = io(site.url, { transports: ['websocket'], forceNew: true, reconnection: false });
  await withDeadline(new Promise((resolve) => viewer.once('connect', () => resolve(undefined))), 10_000, 'the viewer to connect');
  viewer.on('redis:state', (state: RedisState) => states.push(state));
  viewer.on('pool:changed', (snapshot: PoolSnapshot) => snapshots.push(snapshot));
  const watched = (await viewer.timeout(10_000).emitWithAck('pool:watch', {})) as { ok: boolean };
  assert.ok(watched.ok);
});

after(async () => {
  viewer?.disconnect();
  await site?.close();
});

async function redisPid(): Promise<number> {
  return Number(/process_id:(\d+)/.exec(await site.redis.info('server'))?.[1]);
}


test('SIGKILL to the private Redis: restarted (same port, new password), pools sound, notifications on, the run in the outage failed, viewers told', { timeout: 120_000 }, async () => {
  const urlBefore = new URL(site.redisUrl);
  const pid = await redisPid();
  assert.ok(pid > 0 && isAlive(pid));
  // Some state to lose: an executor busy in main, its token, and the deck the hall sees.
  const before = await api<AllocateReply>(site, 'POST', '/api/allocate', { evalId: 'eval-before-outage' });
  assert.equal(before.status, 200);
  const deckBefore = site.hall.deck.state;

  // A run in flight: its eval is on a worker when Redis dies.
  const finished = new Promise<RunRecord>((resolve) => site.runs.on('finished', (run) => run.scenario === 'attempt-3' && resolve(run)));
  const started = await api<RunSummary>(site, 'POST', '/api/scenarios/attempt-3/runs', { fault: 'lock-lost' }, PRESENTER);
  assert.equal(started.status, 202);
  await pollUntil(async () => (await site.runs.get(started.body.id))!.events.some((e) => e.kind === 'picked-up'), 30_000, 'the run to be picked up');

  process.kill(pid, 'SIGKILL');
  await withDeadline(
    new Promise<void>((resolve) => viewer.on('redis:state', (state: RedisState) => state.redis === 'unavailable' && resolve())),
    10_000,
    'viewers to be told Redis is unavailable',
  );

  // Meanwhile no request hangs: each answers within its timeout, unavailable or (once back) served.
  const during: number[] = [];
  for (let i = 0; i < 5; i++) {
    const t0 = Date.now();
    const reply = await api<{ error?: string }>(site, 'GET', '/api/pool');
    during.push(Date.now() - t0);
    assert.ok(reply.status === 503 ? reply.body.error === 'redis_unavailable' : reply.status === 200, `503 redis_unavailable or 200, got ${reply.status}`);
  }
  assert.ok(Math.max(...during) < 3_000, `every request answered within 3 s: ${during.join(', ')} ms`);

  const run = await withDeadline(finished, RECOVERY_DEADLINE_MS, 'the run caught in the outage to end');
  assert.equal(run.status, 'failed', 'not reported finished and sound over an empty pool');
  assert.match(run.error ?? '', /Redis became unavailable/);

  await withDeadline(
    new Promise<void>((resolve) => {
      if (states.at(-1)?.redis === 'ok') resolve();
      viewer.on('redis:state', (state: RedisState) => state.redis === 'ok' && resolve());
    }),
    RECOVERY_DEADLINE_MS,
    'viewers to be told Redis is back',
  );
  assert.deepEqual(states.map((s) => s.redis), ['unavailable', 'ok']);
  assert.ok(!isAlive(pid), 'the killed redis-server is gone');

  const urlAfter = new URL(site.redisUrl);
  assert.equal(urlAfter.port, urlBefore.port, 'same port');
  assert.notEqual(urlAfter.password, urlBefore.password, 'new password');
  assert.notEqual(await redisPid(), pid, 'a new redis-server');

  // The pools, rebuilt and sound, and viewers got them without asking.
  const main = await api<PoolSnapshot>(site, 'GET', '/api/pool');
  assert.equal(main.status, 200);
  assert.equal(main.body.executors.length, 4);
  assert.ok(checkInvariant(main.body).sound, checkInvariant(main.body).summary);
  assert.ok(snapshots.some((s) => s.pool === 'main' && s.executors.length === 4 && s.readAt >= states.at(-1)!.at - 1000), 'a fresh snapshot was pushed');
  const after = await api<AllocateReply>(site, 'POST', '/api/allocate', { evalId: 'eval-after-outage' });
  assert.equal(after.status, 200);
  assert.ok(after.body.token > before.body.token, `no token handed out twice: ${after.body.token} after ${before.body.token}`);
  // The deck came back with the server's state, at a version no lower than before.
  assert.deepEqual(JSON.parse((await site.redis.hget(DECK_KEY, 'open')) ?? 'null'), deckBefore.open);
  assert.ok(Number(await site.redis.hget(DECK_KEY, 'version')) >= deckBefore.version);
  assert.deepEqual(site.hall.deck.state.open, deckBefore.open);

  // Expiry notifications are on again: a 1 s marker comes back by its notification.
  const [, flags] = (await site.redis.config('GET', 'notify-keyspace-events')) as [string, string];
  assert.match(flags, /E/);
  assert.match(flags, /x|A/);
  const reclaimed = once(site.actions.pools, 'reclaimed', { signal: AbortSignal.timeout(10_000) });
  const short = await site.actions.pools.allocate('main', 'eval-short', 1);
  assert.ok(short);
  const [, executors] = await reclaimed;
  assert.deepEqual(executors, [short.executor]);

  // And the task runtime works on the new Redis: a whole run, sound.
  const next = await api<RunSummary>(site, 'POST', '/api/scenarios/attempt-3/runs', { fault: 'none' }, PRESENTER);
  assert.equal(next.status, 202);
  const nextRun = await withDeadline(
    new Promise<RunRecord>((resolve) => site.runs.on('finished', (r) => r.id === next.body.id && resolve(r))),
    RECOVERY_DEADLINE_MS,
    'a run after the outage',
  );
  assert.equal(nextRun.status, 'finished', nextRun.error ?? '');
  assert.equal((await site.runs.get(run.id))?.status, 'failed', 'the run caught in the outage stays failed');
});
