/**
 * The TTL safety net: an executor whose busy marker expires comes back to the
 * pool, through the keyspace notification or, when that is lost, the sweep.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { startPrivateRedis, type PrivateRedis } from '../../server/redis/privateRedis.ts';
import { startReaper } from '../../server/pool/reaper.ts';
import { checkInvariant } from '../../server/pool/invariant.ts';
import { poolKeys } from '../../server/pool/keys.ts';
import { createCapturingLogger } from '../../server/log.ts';
import { connectPools, pollUntil, type TestPools } from '../support/redis.ts';

/** A 1 s marker comes back within a second or two; a broken reaper fails here instead of hanging. */
const RECLAIM_TIMEOUT_MS = 10_000;

let redis: PrivateRedis;
let t: TestPools;

before(async () => {
  redis = await startPrivateRedis();
  t = await connectPools(redis.url);
});

after(async () => {
  await t?.close();
  await redis?.stop();
});

test('without a reaper, an expired busy marker leaves the executor lost', async () => {
  await t.pools.reset('no-reaper');
  const allocation = await t.pools.allocate('no-reaper', 'eval-dies', 1);
  assert.ok(allocation);
  // Wait for Redis itself to say the marker is gone (PTTL -2), not for a guessed time.
  const busyKey = poolKeys('no-reaper').busyPrefix + allocation.executor;
  await pollUntil(async () => (await t.redis.pttl(busyKey)) === -2, 5_000, `${busyKey} to expire`);
  const verdict = checkInvariant(await t.pools.snapshot('no-reaper'));
  assert.equal(verdict.sound, false);
  assert.match(verdict.problems.join('\n'), new RegExp(`${allocation.executor} is lost`));
});

test('the expiry notification brings the executor back', async () => {
  const { logger } = createCapturingLogger();
  const reaper = await startReaper({ redis: t.redis, pools: t.pools, poolNames: () => ['expiry'], sweepIntervalMs: 60_000, log: logger });
  try {
    assert.equal(reaper.notifications, true);
    await t.pools.reset('expiry');
    const allocation = await t.pools.allocate('expiry', 'eval-dies', 1);
    assert.ok(allocation);
    const [pool, executors, via] = await once(t.pools, 'reclaimed', { signal: AbortSignal.timeout(RECLAIM_TIMEOUT_MS) });
    assert.deepEqual([pool, executors, via], ['expiry', [allocation.executor], 'expiry']);
    const snapshot = await t.pools.snapshot('expiry');
    assert.equal(snapshot.available.filter((url) => url === allocation.executor).length, 1);
    assert.equal(checkInvariant(snapshot).sound, true);
  } finally {
    await reaper.stop();
  }
});

test('with notifications lost, the sweep brings it back', async () => {
  const { logger } = createCapturingLogger();
  const reaper = await startReaper({ redis: t.redis, pools: t.pools, poolNames: () => ['sweep'], sweepIntervalMs: 200, log: logger });
  try {
    await t.redis.config('SET', 'notify-keyspace-events', ''); // as if we missed them
    await t.pools.reset('sweep');
    const allocation = await t.pools.allocate('sweep', 'eval-dies', 1);
    assert.ok(allocation);
    const [pool, executors, via] = await once(t.pools, 'reclaimed', { signal: AbortSignal.timeout(RECLAIM_TIMEOUT_MS) });
    assert.deepEqual([pool, executors, via], ['sweep', [allocation.executor], 'sweep']);
    const snapshot = await t.pools.snapshot('sweep');
    assert.equal(snapshot.available.filter((url) => url === allocation.executor).length, 1, 'it is really back in the list');
    assert.equal(checkInvariant(snapshot).sound, true);
  } finally {
    await reaper.stop();
  }
});

test('reclaiming a whole pool changes nothing, however often it runs', async () => {
  await t.pools.reset('whole');
  await t.pools.allocate('whole', 'eval-alive');
  const before = await t.pools.snapshot('whole');
  for (let i = 0; i < 3; i++) assert.deepEqual(await t.pools.reclaim('whole', 'sweep'), []);
  const afterSweeps = await t.pools.snapshot('whole');
  assert.deepEqual(afterSweeps.available, before.available);
  assert.deepEqual(afterSweeps.busy, before.busy);
});
