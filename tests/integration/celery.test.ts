/**
 * Real Celery: `celery worker` processes (prefork) supervised by the server's
 * Celery runtime, a private redis-server, and every mechanism of
 * common/celeryFaults.ts producing its callbacks through Celery's own
 * machinery. Callbacks are counted from Redis: each callback increments a hash in
 * Celery's database before it releases, and the releases' replies come from the
 * Lua script (or the naive commands) in the pools' database.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import type { Redis } from 'ioredis';
import type { ExecutorPools } from '../../server/pool/executorPool.ts';
import type { CeleryRuntime } from '../../server/tasks/celery/celeryRuntime.ts';
import { startCeleryRig, type CeleryRig } from '../support/celeryRig.ts';
import type { CeleryFaultName } from '../../server/protocol.ts';
import type { EvalRunResult } from '../../server/tasks/types.ts';
import { isAlive } from '../support/processes.ts';

const TEST_TIMEOUT = 60_000;

let rig: CeleryRig | undefined;
let celeryDb: Redis;
let pools: ExecutorPools;
let celery: CeleryRuntime;

before(async () => {
  rig = await startCeleryRig();
  ({ celeryDb, pools, celery } = rig);
});

after(async () => {
  const pids = (await rig?.close()) ?? [];
  for (const pid of pids) assert.ok(!isAlive(pid), `celery worker ${pid} is gone after close()`);
});

let runs = 0;

async function runFault(fault: CeleryFaultName, release: 'lua' | 'naive' = 'lua', callbacks = { link: true, linkError: true }) {
  const pool = `celery-${++runs}`;
  await pools.reset(pool, 2);
  const evalId = `eval-${runs}`;
  const allocation = await pools.allocate(pool, evalId);
  assert.ok(allocation);
  const result = await celery.run({ runId: `run-${runs}`, evalId, pool, executor: allocation.executor, release, callbacks, fault });
  const enqueued = result.events.find((e) => e.kind === 'enqueued');
  assert.ok(enqueued?.kind === 'enqueued', 'the run says which Celery task it sent');
  // Counted in Redis by the callbacks themselves, by the eval's task id.
  const counted = await celeryDb.hgetall(`idem-celery:calls:${enqueued.data.jobId}`);
  const calls = { link: Number(counted.link ?? 0), linkError: Number(counted.link_error ?? 0) };
  const snapshot = await pools.snapshot(pool);
  return { result, calls, snapshot, executor: allocation.executor };
}

function statuses(result: EvalRunResult): string[] {
  return result.callbacks.map((c) => `${c.callback}:${c.reply.status}`);
}

test('healthy eval: link once, through the Lua script', { timeout: TEST_TIMEOUT }, async () => {
  const { result, calls, snapshot, executor } = await runFault('none');
  assert.equal(result.outcome, 'completed', result.mechanism);
  assert.deepEqual(calls, { link: 1, linkError: 0 });
  assert.deepEqual(statuses(result), ['link:released']);
  assert.ok(snapshot.available.includes(executor));
});

const BOTH: [CeleryFaultName, string, { link: number; linkError: number }][] = [
  ['on-success-raises', 'Task.on_success raises after link went out', { link: 1, linkError: 1 }],
  ['result-unstorable', 'the JSON result serializer cannot store the result', { link: 1, linkError: 1 }],
  ['child-killed', 'the pool child is SIGKILLed after link went out', { link: 1, linkError: 1 }],
  ['worker-killed', 'the whole worker is SIGKILLed after link (acks_late)', { link: 2, linkError: 0 }],
  ['worker-killed-stored', 'the whole worker is SIGKILLed after the result is stored', { link: 2, linkError: 0 }],
  ['child-killed-reject', 'the pool child is killed with task_reject_on_worker_lost', { link: 2, linkError: 0 }],
  ['time-limit', 'a hard task_time_limit', { link: 0, linkError: 2 }],
  ['time-limit-on-success', 'a hard task_time_limit inside on_success', { link: 1, linkError: 2 }],
];

for (const [fault, what, expected] of BOTH) {
  test(`${fault}: ${what} → link ×${expected.link}, link_error ×${expected.linkError}; the Lua release puts the executor back once`, { timeout: TEST_TIMEOUT }, async () => {
    const { result, calls, snapshot, executor } = await runFault(fault);
    assert.notEqual(result.outcome, 'timed-out', result.mechanism);
    assert.deepEqual(calls, expected, result.mechanism);
    assert.equal(result.callbacks.length, expected.link + expected.linkError, 'every call released, with a reply from Redis');
    assert.equal(result.callbacks.filter((c) => c.reply.status === 'released').length, 1, statuses(result).join(', '));
    assert.equal(snapshot.available.filter((url) => url === executor).length, 1, 'in the pool exactly once');
  });
}

test('worker_deduplicate_successful_tasks prevents the redelivery duplicate', { timeout: TEST_TIMEOUT }, async () => {
  const { result, calls } = await runFault('worker-killed-stored-dedup');
  assert.notEqual(result.outcome, 'timed-out', result.mechanism);
  assert.deepEqual(calls, { link: 1, linkError: 0 }, result.mechanism);
  assert.ok(result.events.some((e) => e.kind === 'worker-killed'), 'the worker really died');
  assert.ok(result.events.some((e) => e.kind === 'worker-restarted'), 'and was restarted by the supervisor');
});

test('the naive release (attempt 2) puts the executor in the pool twice when Celery runs link twice', { timeout: TEST_TIMEOUT }, async () => {
  const { result, calls, snapshot, executor } = await runFault('worker-killed', 'naive');
  assert.deepEqual(calls, { link: 2, linkError: 0 }, result.mechanism);
  assert.equal(snapshot.available.filter((url) => url === executor).length, 2, 'the naive release duplicates the executor');
});
