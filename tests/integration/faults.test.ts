/**
 * The task runtime's faults, for real: a private redis-server, BullMQ worker
 * processes forked by the runtime, and every double callback produced by BullMQ's
 * own mechanics (a result that cannot be serialized, a SIGKILL, a blocked event
 * loop). Each test waits for the run's own end, never for a guessed time.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { Redis } from 'ioredis';
import { createCapturingLogger } from '../../server/log.ts';
import { ExecutorPools } from '../../server/pool/executorPool.ts';
import { startPrivateRedis, type PrivateRedis } from '../../server/redis/privateRedis.ts';
import { loadScripts } from '../../server/redis/scripts.ts';
import {
  startEvalRuntime,
  type CallbackRun,
  type EvalRuntime,
  type EvalRunResult,
  type FaultName,
  type TimelineEvent,
} from '../../server/tasks/evalRuntime.ts';
import { TimelineEventSchema } from '../../server/protocol.ts';
import { isAlive } from '../support/processes.ts';

const TEST_TIMEOUT = 40_000;

let redisServer: PrivateRedis;
let redis: Redis;
let pools: ExecutorPools;
let runtime: EvalRuntime;
const { logger, lines: logLines } = createCapturingLogger('info');

before(async () => {
  redisServer = await startPrivateRedis();
  redis = new Redis(redisServer.url, { maxRetriesPerRequest: 2 });
  pools = new ExecutorPools(redis, loadScripts(redis), { busyTtlSeconds: 600, doubleReleaseWindowMs: 1000, defaultSize: 3 }, logger);
  runtime = await startEvalRuntime({
    redisUrl: redisServer.url,
    log: logger,
    workers: 2,
    lockDurationMs: 1000,
    stalledIntervalMs: 500,
    runTimeoutMs: 20_000,
    startTimeoutMs: 60_000,
  });
});

after(async () => {
  const pids = runtime ? runtime.workers().map((w) => w.pid).filter((pid): pid is number => pid !== null) : [];
  await runtime?.close();
  for (const pid of pids) assert.ok(!isAlive(pid), `worker process ${pid} is gone after close()`);
  await redis?.quit().catch(() => redis.disconnect());
  await redisServer?.stop();
});

interface Played {
  result: EvalRunResult;
  streamed: TimelineEvent[];
  evalId: string;
  executor: string;
  available: number;
  busyBy: string | undefined;
}

let counter = 0;

async function play(
  fault: FaultName,
  release: 'lua' | 'naive' = 'lua',
  callbacks = { link: true, linkError: true },
): Promise<Played> {
  const n = ++counter;
  const pool = `faults-${n}`;
  await pools.reset(pool);
  const evalId = `eval-${fault}-${n}`;
  const allocation = await pools.allocate(pool, evalId);
  assert.ok(allocation, 'a fresh pool has an executor');
  const streamed: TimelineEvent[] = [];
  const result = await runtime.run({
    runId: `run-${n}`,
    evalId,
    pool,
    executor: allocation.executor,
    release,
    callbacks,
    fault,
    onEvent: (event) => streamed.push(event),
  });
  const snapshot = await pools.snapshot(pool);
  const played = {
    result,
    streamed,
    evalId,
    executor: allocation.executor,
    available: snapshot.available.filter((url) => url === allocation.executor).length,
    busyBy: snapshot.busy[allocation.executor],
  };
  assertTimeline(played);
  return played;
}

/** Every event was streamed as it happened, and the timeline is plain, replayable JSON. */
function assertTimeline({ result, streamed }: Played): void {
  assert.deepEqual(streamed, result.events, 'onEvent saw exactly the events of the result, in order');
  assert.deepEqual(JSON.parse(JSON.stringify(result.events)), result.events, 'events survive JSON');
  for (const event of result.events) {
    const parsed = TimelineEventSchema.safeParse(JSON.parse(JSON.stringify(event)));
    assert.ok(parsed.success, `event ${event.seq} (${event.kind}) fits the protocol: ${parsed.success ? '' : parsed.error.message}`);
  }
  assert.deepEqual(result.events.map((e) => e.seq), result.events.map((_, i) => i + 1));
  assert.ok(result.events.every((e) => ['server', 'worker-1', 'worker-2', 'cleanup-job', 'redis'].includes(e.lane)), 'known lanes only');
  assert.ok(result.events.filter((e) => e.lane === 'redis').every((e) => e.pid === null), 'Redis has no pid');
  assert.ok(result.events.filter((e) => e.lane !== 'redis').every((e) => typeof e.pid === 'number'), 'every process step names its pid');
  const cleanupPids = result.events.filter((e) => e.lane === 'cleanup-job').map((e) => e.pid);
  assert.ok(cleanupPids.every((pid) => pid !== process.pid), 'the cleanup job runs in a worker process, not the server');
}

const names = (callbacks: CallbackRun[]) => callbacks.map((c) => c.callback).sort();
const statuses = (callbacks: CallbackRun[]) => callbacks.map((c) => c.reply.status);
const kinds = (result: EvalRunResult) => result.events.map((e) => e.kind);

/** Two callbacks of one eval released one executor; the Lua release kept it once in the pool. */
function assertDoubleCallbackHeld(played: Played, expected: ('link' | 'link_error')[]): void {
  const { result } = played;
  assert.equal(result.callbacks.length, 2, `two callbacks ran:\n${result.events.map((e) => `${e.lane} ${e.kind}: ${e.text}`).join('\n')}`);
  assert.deepEqual(names(result.callbacks), [...expected].sort());
  assert.deepEqual(statuses(result.callbacks), ['released', 'already_in_pool'], 'first release puts it back, the second finds it there');
  assert.equal(played.available, 1, 'the executor is in the pool exactly once');
  assert.equal(played.busyBy, undefined, 'and no longer busy');
  for (const callback of result.callbacks) {
    assert.equal(callback.reply.executor, played.executor);
    assert.notEqual(callback.pid, process.pid, 'released from a worker process');
    if (callback.callback === 'link') assert.equal(callback.lane, 'cleanup-job', 'link runs as a queued job');
    else assert.match(callback.lane, /^worker-\d$/, 'link_error runs directly in the worker');
  }
  // The Redis replies are on the timeline too, as Redis gave them.
  const replies = result.events.filter((e) => e.kind === 'release-reply');
  assert.equal(replies.length, 2);
  assert.ok(replies.every((e) => e.lane === 'redis'));
  // Each reply names the callback that asked and the process it ran in, as the runtime counted them.
  assert.deepEqual(
    replies.map((e) => `${e.data.callback}@${e.data.callbackLane}:${e.data.callbackPid}`).sort(),
    result.callbacks.map((c) => `${c.callback}@${c.lane}:${c.pid}`).sort(),
  );
}

test('healthy success: link is queued as a job of its own and releases once', { timeout: TEST_TIMEOUT }, async () => {
  const played = await play('none');
  assert.equal(played.result.outcome, 'completed');
  assert.deepEqual(names(played.result.callbacks), ['link']);
  assert.equal(played.result.callbacks[0]!.lane, 'cleanup-job');
  assert.deepEqual(statuses(played.result.callbacks), ['released']);
  assert.equal(played.available, 1);
  // Celery's order: the callback is dispatched before the result is stored.
  const k = kinds(played.result);
  assert.ok(k.indexOf('link-dispatched') < k.indexOf('job-completed'));
});

test('healthy failure: link_error runs in the worker and releases once', { timeout: TEST_TIMEOUT }, async () => {
  const played = await play('task-fails');
  assert.equal(played.result.outcome, 'failed');
  assert.deepEqual(names(played.result.callbacks), ['link_error']);
  assert.equal(played.available, 1);
  assert.ok(!kinds(played.result).includes('link-dispatched'), 'a failed task sends no link');
});

test('result-unstorable: link is out, moveToCompleted throws, the worker fails the job: link + link_error', { timeout: TEST_TIMEOUT }, async () => {
  const played = await play('result-unstorable');
  assert.equal(played.result.outcome, 'failed');
  assertDoubleCallbackHeld(played, ['link', 'link_error']);
  const k = kinds(played.result);
  assert.ok(k.includes('store-failed') && k.includes('job-failed'));
  assert.ok(k.indexOf('link-dispatched') < k.indexOf('store-failed'));
  assert.match(played.result.mechanism, /moveToCompleted failed: the result could not be serialized/);
  assert.ok(logLines.some((line) => line.includes('"msg":"Double release detected"')), 'the worker\'s pool warned, through the server log');
});

test('result-unstorable with the naive release: the executor lands in the pool twice', { timeout: TEST_TIMEOUT }, async () => {
  const played = await play('result-unstorable', 'naive');
  assert.deepEqual(names(played.result.callbacks), ['link', 'link_error']);
  assert.deepEqual(statuses(played.result.callbacks), ['released', 'released'], 'the naive release never says no');
  assert.equal(played.available, 2, 'the safety property fails: one executor, two entries');
});

test('worker-killed: SIGKILL after link is out; the stall check re-runs the job: link twice', { timeout: TEST_TIMEOUT }, async () => {
  const before = runtime.workers();
  const played = await play('worker-killed');
  const { result } = played;
  assert.equal(result.outcome, 'completed');
  assertDoubleCallbackHeld(played, ['link', 'link']);
  const killed = result.events.find((e) => e.kind === 'worker-killed');
  assert.ok(killed, 'the kill is on the timeline');
  const { pid, signal, phase } = killed.data;
  assert.equal(signal, 'SIGKILL');
  assert.equal(phase, 'after-link-dispatched', 'the kill names its phase');
  assert.ok(before.some((w) => w.pid === pid), 'one of the running workers was killed');
  const restarted = result.events.find((e) => e.kind === 'worker-restarted');
  assert.ok(restarted, 'the supervisor restarted it');
  assert.equal(restarted.lane, killed.lane, 'under the same lane');
  assert.notEqual(restarted.pid, pid, 'as a new process');
  assert.ok(kinds(result).includes('job-stalled'));
  assert.match(result.mechanism, /killed by SIGKILL after dispatching link/);
  assert.match(result.mechanism, /job stalled: its lock expired/);
  assert.match(result.mechanism, /ran it a second time/);
});

test('worker-killed-fail: the same crash with maxStalledCount 0: link + link_error', { timeout: TEST_TIMEOUT }, async () => {
  const played = await play('worker-killed-fail');
  assert.equal(played.result.outcome, 'failed');
  assertDoubleCallbackHeld(played, ['link', 'link_error']);
  const killed = played.result.events.find((e) => e.kind === 'worker-killed');
  assert.ok(killed);
  assert.match(played.result.mechanism, /job stalled more than allowable limit/);
});

test('lock-lost: a blocked event loop loses the lock; a second worker runs the job too: link twice', { timeout: TEST_TIMEOUT }, async () => {
  const played = await play('lock-lost');
  assert.equal(played.result.outcome, 'completed');
  assertDoubleCallbackHeld(played, ['link', 'link']);
  const storeFailed = played.result.events.find((e) => e.kind === 'store-failed');
  assert.ok(storeFailed, 'the late worker could not store its result');
  assert.match(storeFailed.data.message, /Missing lock|Lock mismatch/);
  assert.equal(storeFailed.data.lockLost, true);
  const blocked = played.result.events.find((e) => e.kind === 'event-loop-blocked');
  assert.ok(blocked);
  assert.notEqual(blocked.pid, played.result.events.find((e) => e.kind === 'job-completed')?.pid, 'another process completed it');
  assert.match(played.result.mechanism, /blocked its event loop/);
  assert.match(played.result.mechanism, /job stalled/);
  assert.ok(!played.result.events.some((e) => e.kind === 'worker-killed'), 'nobody was killed');
});

test('lock-lost-fail: the second worker (maxStalledCount 0) fails the job: link + link_error', { timeout: TEST_TIMEOUT }, async () => {
  const played = await play('lock-lost-fail');
  assert.equal(played.result.outcome, 'failed');
  assertDoubleCallbackHeld(played, ['link', 'link_error']);
  assert.match(played.result.mechanism, /job stalled more than allowable limit/);
  assert.match(played.result.mechanism, /finished late/);
});

test('worker-killed-silent: killed before any callback, never recovered: no release, the executor stays busy', { timeout: TEST_TIMEOUT }, async () => {
  const played = await play('worker-killed-silent');
  assert.equal(played.result.outcome, 'lost');
  assert.deepEqual(played.result.callbacks, []);
  assert.ok(!kinds(played.result).includes('release-reply'));
  assert.ok(!kinds(played.result).includes('link-dispatched'));
  assert.equal(played.available, 0, 'not back in the pool');
  assert.equal(played.busyBy, played.evalId, 'still busy for the lost eval: only its TTL can free it');
  const killed = played.result.events.find((e) => e.kind === 'worker-killed');
  assert.ok(killed);
  assert.equal(killed.data.phase, 'before-any-callback');
  assert.match(played.result.mechanism, /no stall check watches queue evals-unguarded/);
});

test('after a kill: two live workers, the killed one replaced, and runs work again (several at once, one after another)', { timeout: 2 * TEST_TIMEOUT }, async () => {
  // Its own kill, so this test stands alone whatever ran before it.
  const killed = (await play('worker-killed')).result.events.find((e) => e.kind === 'worker-killed');
  assert.ok(killed, 'the kill is on the timeline');
  const killedPid = killed.data.pid;
  const workers = runtime.workers();
  assert.equal(workers.length, 2);
  assert.ok(workers.every((w) => w.ready && w.pid !== null && isAlive(w.pid)));
  assert.equal(new Set(workers.map((w) => w.pid)).size, 2);
  assert.ok(!workers.some((w) => w.pid === killedPid), `killed pid ${killedPid} is not a worker any more`);
  assert.ok(!isAlive(killedPid), `killed pid ${killedPid} is dead`);
  const [a, b] = await Promise.all([play('none'), play('task-fails')]);
  assert.equal(a.result.outcome, 'completed');
  assert.equal(b.result.outcome, 'failed');
  // Serialized: the second run started after the first ended.
  const [first, second] = [a.result, b.result].sort((x, y) => x.startedAt - y.startedAt);
  assert.ok(second!.startedAt >= first!.finishedAt - 1);
  assert.equal(a.available, 1);
  assert.equal(b.available, 1);
});
