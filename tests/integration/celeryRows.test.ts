/**
 * The rows of "Does Celery really do that?" added after the first ones, each on
 * real `celery worker` processes and a private redis-server, callbacks counted
 * from Redis (the hash each callback increments, by the eval's task id):
 *  - a 2 MB result on a result backend whose Redis runs with proto-max-bulk-len 1mb
 *    (a redis-server of the runtime's own; the pools' Redis keeps its limits);
 *  - bug #6737's shape (protocol 1, a chain with .on_error(), frozen before sending)
 *    beside the two shapes that differ from it in one respect;
 *  - the client waiting on the result with .get() (the backend's pubsub) on the
 *    healthy and the failing path: the same callbacks as without it;
 *  - an eval that outlives the visibility timeout while the idle worker restarts:
 *    the new worker restores the unacknowledged message as it starts, and link runs twice.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import type { Redis } from 'ioredis';
import type { ExecutorPools } from '../../server/pool/executorPool.ts';
import type { CeleryRuntime } from '../../server/tasks/celery/celeryRuntime.ts';
import { startCeleryRig, type CeleryRig } from '../support/celeryRig.ts';
import type { CeleryFaultName, TimelineEvent, TimelineEventOf, TimelineKind } from '../../server/protocol.ts';

const TEST_TIMEOUT = 60_000;

let rig: CeleryRig | undefined;
let redis: Redis;
let celeryDb: Redis;
let pools: ExecutorPools;
let celery: CeleryRuntime;

before(async () => {
  rig = await startCeleryRig();
  ({ redis, celeryDb, pools, celery } = rig);
});

after(async () => {
  await rig?.close();
});

let runs = 0;

async function runFault(fault: CeleryFaultName) {
  const pool = `rows-${++runs}`;
  await pools.reset(pool, 2);
  const evalId = `eval-${runs}`;
  const allocation = await pools.allocate(pool, evalId);
  assert.ok(allocation);
  const result = await celery.run({ runId: `run-${runs}`, evalId, pool, executor: allocation.executor, release: 'lua', callbacks: { link: true, linkError: true }, fault });
  assert.notEqual(result.outcome, 'timed-out', result.mechanism);
  const taskId = only(result.events, 'enqueued').data.jobId;
  const counted = await celeryDb.hgetall(`idem-celery:calls:${taskId}`);
  const calls = { link: Number(counted.link ?? 0), linkError: Number(counted.link_error ?? 0) };
  const snapshot = await pools.snapshot(pool);
  assert.equal(snapshot.available.filter((url) => url === allocation.executor).length, 1, 'the Lua release put the executor back once');
  return { result, calls, taskId };
}

function all<K extends TimelineKind>(events: TimelineEvent[], kind: K): TimelineEventOf<K>[] {
  return events.filter((e): e is TimelineEventOf<K> => e.kind === kind);
}

function only<K extends TimelineKind>(events: TimelineEvent[], kind: K): TimelineEventOf<K> {
  const found = all(events, kind);
  assert.equal(found.length, 1, `one ${kind} event`);
  return found[0]!;
}

test('result-too-large: a 2 MB result the backend refuses (proto-max-bulk-len 1mb) → link and link_error; the pools’ Redis keeps its limit', { timeout: TEST_TIMEOUT }, async () => {
  const { result, calls, taskId } = await runFault('result-too-large');
  assert.deepEqual(calls, { link: 1, linkError: 1 }, result.mechanism);
  assert.equal(result.outcome, 'failed', 'the failure was stored, on the limited backend');
  // Redis refused the value: the errback got the connection error Celery's retries gave up on.
  assert.match(only(result.events, 'errback-called').data.exception, /ConnectionError|invalid bulk length/);
  assert.equal(await celeryDb.exists(`celery-task-meta-${taskId}`), 0, 'no result in the shared backend');
  const [, limit] = (await redis.config('GET', 'proto-max-bulk-len')) as [string, string];
  assert.equal(limit, String(512 * 1024 * 1024), 'the pools’ Redis keeps its default');
});

test('bug #6737: a frozen chain with on_error on task protocol 1 runs its link step twice; protocol 2, or plain link on protocol 1, once', { timeout: 3 * TEST_TIMEOUT }, async () => {
  const bug = await runFault('chain-frozen-v1');
  assert.deepEqual(bug.calls, { link: 2, linkError: 0 }, bug.result.mechanism);
  assert.deepEqual(pick(only(bug.result.events, 'eval-message').data), { protocol: 1, links: 2, errbacks: 1, chained: 0 }, 'the message carried the step twice');
  assert.deepEqual(bug.result.callbacks.map((c) => c.reply.status).sort(), ['already_in_pool', 'released']);

  const protocol2 = await runFault('chain-frozen-v2');
  assert.deepEqual(protocol2.calls, { link: 1, linkError: 0 }, protocol2.result.mechanism);
  assert.deepEqual(pick(only(protocol2.result.events, 'eval-message').data), { protocol: 2, links: 0, errbacks: 1, chained: 1 });

  const plain = await runFault('link-v1');
  assert.deepEqual(plain.calls, { link: 1, linkError: 0 }, plain.result.mechanism);
  assert.deepEqual(pick(only(plain.result.events, 'eval-message').data), { protocol: 1, links: 1, errbacks: 1, chained: 0 });
});

function pick({ protocol, links, errbacks, chained }: TimelineEventOf<'eval-message'>['data']) {
  return { protocol, links, errbacks, chained };
}

test('.get() on the result (the backend’s pubsub) changes no callback: the healthy and the failing paths run as without it', { timeout: 4 * TEST_TIMEOUT }, async () => {
  for (const [waited, plain, state] of [
    ['result-get', 'none', 'SUCCESS'],
    ['result-get-fails', 'task-fails', 'FAILURE'],
  ] as const) {
    const without = await runFault(plain);
    const withGet = await runFault(waited);
    assert.deepEqual(withGet.calls, without.calls, `${waited}: ${withGet.result.mechanism}`);
    assert.deepEqual(without.calls, plain === 'none' ? { link: 1, linkError: 0 } : { link: 0, linkError: 1 });
    assert.equal(all(without.result.events, 'result-awaited').length, 0, 'no .get() without the fault');
    const awaited = only(withGet.result.events, 'result-awaited');
    assert.ok(awaited.data.subscribers >= 1, 'the client is subscribed to the result’s channel');
    const received = only(withGet.result.events, 'result-received');
    assert.equal(received.data.state, state, '.get() returned the final state');
    // .get() reads the state off the result's channel, unless the backend had taken it off already (a wait for
    // another result drained the channel first): then it reads nothing there and returns the buffered state.
    if (received.data.seen.length > 0) assert.equal(received.data.seen.at(-1), state, received.text);
  }
});

test('visibility-timeout: the eval outlives the visibility timeout, the idle worker restarts and runs it again → link twice, nothing crashed', { timeout: TEST_TIMEOUT }, async () => {
  const { result, calls } = await runFault('visibility-timeout');
  // Counted in Redis by the callbacks themselves: the only count this test trusts.
  assert.deepEqual(calls, { link: 2, linkError: 0 }, result.mechanism);
  assert.equal(result.outcome, 'completed', result.mechanism);
  assert.deepEqual(result.callbacks.map((c) => c.reply.status).sort(), ['already_in_pool', 'released']);
  assert.equal(all(result.events, 'worker-killed').length, 0, 'no process died');
  assert.equal(all(result.events, 'kill-requested').length, 0, 'nothing was killed');
  // The server restarted the idle worker once the eval had been unacknowledged for longer than the visibility timeout.
  const slow = only(result.events, 'hook-fault');
  const restarting = only(result.events, 'worker-restarting');
  assert.notEqual(restarting.lane, slow.lane, 'the worker running the eval is left alone');
  assert.ok(restarting.data.unackedMs > restarting.data.visibilityTimeoutSeconds * 1000, `unacknowledged for ${restarting.data.unackedMs} ms`);
  const restarted = only(result.events, 'worker-restarted');
  assert.equal(restarted.lane, restarting.lane);
  // The eval ran twice: on the first worker, and on the restarted one, which restored it as it started.
  const ran = all(result.events, 'task-ran');
  assert.deepEqual(ran.map((e) => e.lane).sort(), [slow.lane, restarting.lane].sort());
  const again = ran.find((e) => e.lane === restarting.lane)!;
  assert.notEqual(again.pid, restarting.pid, 'run by the new worker, not the one stopped');
  assert.ok(again.at >= restarting.at, 'after the restart began');
  // … while the first worker still ran it: its postrun comes after the second run began.
  const firstDone = all(result.events, 'task-finished').find((e) => e.lane === slow.lane)!;
  assert.ok(firstDone.at > again.at, 'the first worker was still running the eval');
});
