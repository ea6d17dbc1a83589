/**
 * A worker SIGKILLed in each phase of a task: whatever the phase, the executor
 * comes back to the pool exactly once, by a callback (the stall check re-runs or
 * fails the job) or, when no callback will ever run, by the reaper after its busy
 * marker's TTL. Real worker processes, a real Redis, a real reaper.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { createCapturingLogger } from '../../server/log.ts';
import { startPrivateRedis, type PrivateRedis } from '../../server/redis/privateRedis.ts';
import { startReaper, type Reaper } from '../../server/pool/reaper.ts';
import { checkInvariant } from '../../server/pool/invariant.ts';
import { startEvalRuntime, type EvalRuntime, type FaultName } from '../../server/tasks/evalRuntime.ts';
import { connectPools, pollUntil, type TestPools } from '../support/redis.ts';

/** Short, so a kill with no callback is reclaimed within the test; longer than any healthy run's callbacks. */
const TTL_SECONDS = 4;

let redisServer: PrivateRedis;
let t: TestPools;
let reaper: Reaper;
let runtime: EvalRuntime;
const pools: string[] = [];

before(async () => {
  redisServer = await startPrivateRedis();
  t = await connectPools(redisServer.url);
  const { logger } = createCapturingLogger('warn');
  reaper = await startReaper({ redis: t.redis, pools: t.pools, poolNames: () => pools, sweepIntervalMs: 500, log: logger });
  runtime = await startEvalRuntime({ redisUrl: redisServer.url, log: logger, workers: 2, runTimeoutMs: 20_000, startTimeoutMs: 60_000 });
});

after(async () => {
  await runtime?.close();
  await reaper?.stop();
  await t?.close();
  await redisServer?.stop();
});

const cases: { phase: string; fault: FaultName; callbacks: { link: boolean; linkError: boolean }; via: 'callback' | 'reaper' }[] = [
  { phase: 'before-any-callback', fault: 'worker-killed-silent', callbacks: { link: true, linkError: true }, via: 'reaper' },
  { phase: 'after-link-dispatched', fault: 'worker-killed', callbacks: { link: true, linkError: true }, via: 'callback' },
  { phase: 'after-link-dispatched (stalled job failed)', fault: 'worker-killed-fail', callbacks: { link: true, linkError: true }, via: 'callback' },
  // Re-run and succeeding, with no link to release: attempt 1's leak, which only the TTL mends.
  { phase: 'before-result-stored (no link attached, job re-run)', fault: 'worker-killed', callbacks: { link: false, linkError: true }, via: 'reaper' },
  { phase: 'before-result-stored (no link attached, stalled job failed)', fault: 'worker-killed-fail', callbacks: { link: false, linkError: true }, via: 'callback' },
  { phase: 'before-result-stored, no callback attached at all', fault: 'worker-killed', callbacks: { link: false, linkError: false }, via: 'reaper' },
];

let n = 0;
for (const c of cases) {
  test(`killed ${c.phase}: the executor comes back once, by ${c.via}`, { timeout: 60_000 }, async () => {
    const pool = `kills-${++n}`;
    pools.push(pool);
    await t.pools.reset(pool, 2);
    const allocation = await t.pools.allocate(pool, `eval-kill-${n}`, TTL_SECONDS);
    assert.ok(allocation);
    const result = await runtime.run({
      runId: `run-kill-${n}`, evalId: `eval-kill-${n}`, pool, executor: allocation.executor, release: 'lua', callbacks: c.callbacks, fault: c.fault,
    });
    const killed = result.events.find((e) => e.kind === 'worker-killed');
    assert.ok(killed, `a worker was killed:\n${result.events.map((e) => `${e.kind}: ${e.text}`).join('\n')}`);
    assert.equal((killed.data as { signal?: string }).signal, 'SIGKILL');
    const released = result.callbacks.some((cb) => cb.reply.status === 'released');
    assert.equal(released, c.via === 'callback', `released by a callback: ${released}`);

    await pollUntil(async () => {
      const snapshot = await t.pools.snapshot(pool);
      return snapshot.available.includes(allocation.executor) && snapshot.busy[allocation.executor] === undefined;
    }, (TTL_SECONDS + 10) * 1000, `${allocation.executor} to be back in ${pool}`);
    const snapshot = await t.pools.snapshot(pool);
    assert.equal(snapshot.available.filter((url) => url === allocation.executor).length, 1, 'exactly once');
    assert.ok(checkInvariant(snapshot).sound, checkInvariant(snapshot).summary);
    assert.ok(runtime.workers().every((w) => w.ready), 'every lane has a live worker again');
  });
}
