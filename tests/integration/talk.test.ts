/**
 * The talk's own edge-case test ("Testing the Edge Cases"), ported faithfully:
 *
 *     async def test_double_callback_resilience():
 *         release_executor("executor-1"); release_executor("executor-1")  # Should be safe!
 *         pool_status = get_pool_status()
 *         assert pool_status["executor-1"]["count"] == 1
 *         assert "Double release detected" in captured_logs
 *
 * The core is `doubleCallbackResilience`, exported so the very same test runs with
 * either release: the Lua release passes it, the naive one (plain LPUSH) must fail it.
 *
 * Where it runs: against a private redis-server started here, or, when
 * TALK_TEST_REDIS_URL is set, against that Redis (the live one) on pool
 * TALK_TEST_POOL (default `edge-case-test`), e.g.
 *
 *     TALK_TEST_REDIS_URL=redis://127.0.0.1:6379 node --import tsx --test tests/integration/talk.test.ts
 *
 * Output is node:test's own (TAP when not on a terminal).
 */
import { after, before, test } from 'node:test';
import assert, { AssertionError } from 'node:assert/strict';
import type { ExecutorPools } from '../../server/pool/executorPool.ts';
import { poolKeys } from '../../server/pool/keys.ts';
import { PoolName, type PoolSnapshot } from '../../server/protocol.ts';
import { startPrivateRedis, type PrivateRedis } from '../../server/redis/privateRedis.ts';
import { connectPools, logged, occurrences, type TestPools } from '../support/redis.ts';

export const DEFAULT_TALK_POOL = 'edge-case-test';
export const DOUBLE_RELEASE_MESSAGE = 'Double release detected';

/** One executor's release, e.g. `(pool, url) => pools.release(pool, url)`. */
export type ReleaseExecutor = (pool: string, executor: string) => Promise<unknown>;

/** `get_pool_status()`: how often each executor is in the available list. */
export function getPoolStatus(snapshot: PoolSnapshot): Record<string, { count: number }> {
  return Object.fromEntries(snapshot.executors.map((url) => [url, { count: occurrences(snapshot.available, url) }]));
}

/**
 * The talk's test. Makes executor-1 busy (a fresh pool, then one allocation), runs
 * both callbacks' releases, and asserts what the talk asserts. Throws an
 * AssertionError when the release is not safe to call twice. Returns the captured
 * "Double release detected" lines, for the runner's output.
 */
export async function doubleCallbackResilience(
  pools: ExecutorPools,
  pool: string,
  capturedLogs: readonly string[],
  releaseExecutor: ReleaseExecutor,
): Promise<{ capturedWarnings: string[] }> {
  await pools.reset(pool);
  const allocation = await pools.allocate(pool, 'talk-test-eval');
  assert.equal(allocation?.executor, 'executor-1', 'executor-1 must be busy before its callbacks release it');
  const logsBefore = capturedLogs.length;

  await releaseExecutor(pool, 'executor-1');
  await releaseExecutor(pool, 'executor-1'); // Should be safe!

  const poolStatus = getPoolStatus(await pools.snapshot(pool));
  assert.equal(poolStatus['executor-1']?.count, 1, 'executor-1 must be in the pool exactly once');
  const captured = capturedLogs.slice(logsBefore);
  const warnings = logged(captured, DOUBLE_RELEASE_MESSAGE);
  assert.ok(warnings.length > 0, `"${DOUBLE_RELEASE_MESSAGE}" must be in the captured logs`);
  assert.equal(warnings[0]!.level, 'warn');
  assert.equal(warnings[0]!.executor, 'executor-1');
  return { capturedWarnings: captured.filter((line) => line.includes(DOUBLE_RELEASE_MESSAGE)) };
}

const liveRedisUrl = process.env.TALK_TEST_REDIS_URL;
const pool = PoolName.parse(process.env.TALK_TEST_POOL ?? DEFAULT_TALK_POOL);

let privateRedis: PrivateRedis | undefined;
let t: TestPools;
/** On a Redis we were pointed at: whether the pool was there before us (then we leave it reset, else we remove it). */
let poolExisted = false;

before(async () => {
  if (!liveRedisUrl) privateRedis = await startPrivateRedis();
  t = await connectPools(liveRedisUrl ?? privateRedis!.url);
  poolExisted = (await t.redis.exists(poolKeys(pool).members)) === 1;
});

after(async () => {
  if (t) {
    if (poolExisted) {
      await t.pools.reset(pool);
    } else {
      const keys = poolKeys(pool);
      const members = await t.redis.lrange(keys.members, 0, -1);
      const perExecutor = members.flatMap((url) => [keys.busyPrefix + url, keys.releaseTimesPrefix + url]);
      await t.redis.del(keys.available, keys.members, keys.tokenCounter, ...perExecutor);
    }
    await t.close();
  }
  await privateRedis?.stop();
});

test('test_double_callback_resilience', async (context) => {
  const { capturedWarnings } = await doubleCallbackResilience(t.pools, pool, t.logLines, (p, url) => t.pools.release(p, url));
  // Reported as TAP comments ("# {...}"), so a runner in another process (server/scenarios/talkTest.ts) sees them.
  for (const line of capturedWarnings) context.diagnostic(line);
});

test('the same test fails with the naive release (plain LPUSH): executor-1 twice, no warning', async () => {
  const logsBefore = t.logLines.length;
  await assert.rejects(
    doubleCallbackResilience(t.pools, pool, t.logLines, (p, url) => t.pools.releaseNaive(p, url)),
    (error: unknown) => {
      assert.ok(error instanceof AssertionError, `expected an AssertionError, got ${String(error)}`);
      assert.equal(error.actual, 2, 'the count assertion is the one that fails: executor-1 is in the pool twice');
      return true;
    },
  );
  const snapshot = await t.pools.snapshot(pool);
  assert.equal(getPoolStatus(snapshot)['executor-1']?.count, 2);
  assert.deepEqual(logged(t.logLines.slice(logsBefore), DOUBLE_RELEASE_MESSAGE), [], 'the naive release warns of nothing');
});
