/**
 * The executor pools against a real redis-server of this file's own: every path
 * of the release script, allocation under a burst, busy-marker TTLs, the
 * double-release warning, the naive release's duplicate, the late duplicate and
 * the fenced release that stops it, cluster slots, and the script loader.
 */
import { after, before, beforeEach, test } from 'node:test';
import assert from 'node:assert/strict';
import { ExecutorPools, PoolInputError, executorUrls, poolEntry } from '../../server/pool/executorPool.ts';
import { poolKeys } from '../../server/pool/keys.ts';
import { startPrivateRedis, type PrivateRedis } from '../../server/redis/privateRedis.ts';
import { DECK_KEY } from '../../server/hall/deckStore.ts';
import { PRESENTER_SEEN_KEY } from '../../server/hall/talkPresence.ts';
import { listScripts, loadScripts, readScript } from '../../server/redis/scripts.ts';
import { keySlot } from '../../server/redis/keySlot.ts';
import type { DoubleReleaseWarning } from '../../server/protocol.ts';
import { createMetrics } from '../../server/metrics.ts';
import { createCapturingLogger } from '../../server/log.ts';
import { TEST_POOL_OPTIONS, connectPools, logged, occurrences, type TestPools } from '../support/redis.ts';

const POOL = 'pool-test';
const WINDOW_MS = 50;

let redisServer: PrivateRedis;
/** Default options: 600 s busy TTL, 1000 ms double-release window, 4 executors. */
let t: TestPools;
/** The same Redis, with a 50 ms double-release window. */
let short: TestPools;
let metrics: ReturnType<typeof createMetrics>;

before(async () => {
  redisServer = await startPrivateRedis();
  t = await connectPools(redisServer.url);
  short = await connectPools(redisServer.url, { doubleReleaseWindowMs: WINDOW_MS });
  metrics = createMetrics(short.pools, () => [POOL]);
});

after(async () => {
  metrics?.destroy();
  await t?.close();
  await short?.close();
  await redisServer?.stop();
});

beforeEach(async () => {
  await t.redis.flushall();
  await t.pools.reset(POOL);
  t.logLines.length = 0;
  short.logLines.length = 0;
});

const keys = poolKeys(POOL);
const available = async () => (await t.pools.snapshot(POOL)).available;

// ---------------------------------------------------------------- release script paths

test('release of a busy executor: {1, 1, "released", now, -1}, back in the pool once, marker gone', async () => {
  const allocation = await t.pools.allocate(POOL, 'eval-a');
  assert.equal(allocation?.executor, 'executor-1');
  const before = Date.now();
  const reply = await t.pools.release(POOL, 'executor-1');

  assert.equal(reply.reply.length, 5);
  const [wasBusy, added, status, nowMs, previousMs] = reply.reply as [number, number, string, number, number];
  assert.equal(wasBusy, 1);
  assert.equal(added, 1);
  assert.equal(status, 'released');
  assert.ok(Number.isInteger(nowMs) && Math.abs(nowMs - before) < 5_000, `now_ms is Redis' clock in ms: ${nowMs}`);
  assert.equal(previousMs, -1, 'first release: no previous one');
  assert.deepEqual(
    { executor: reply.executor, wasBusy: reply.wasBusy, added: reply.added, status: reply.status },
    { executor: 'executor-1', wasBusy: 1, added: 1, status: 'released' },
  );
  assert.equal(reply.doubleRelease, false);
  assert.equal(reply.sinceLastReleaseMs, null);

  assert.equal(occurrences(await available(), 'executor-1'), 1);
  assert.equal(await t.redis.exists(keys.busyPrefix + 'executor-1'), 0);
});

test('second release: {0, 0, "already_in_pool", now, previous}; nothing added', async () => {
  await t.pools.allocate(POOL, 'eval-a');
  const first = await t.pools.release(POOL, 'executor-1');
  const second = await t.pools.release(POOL, 'executor-1');

  assert.deepEqual(second.reply.slice(0, 3), [0, 0, 'already_in_pool']);
  assert.equal(second.reply[4], first.reply[3], "previous_release_ms is the first release's now_ms");
  assert.equal(second.sinceLastReleaseMs, Number(second.reply[3]) - Number(first.reply[3]));
  assert.equal(occurrences(await available(), 'executor-1'), 1);
  assert.equal((await available()).length, 4);
});

test('busy marker present while the entry is still available: {1, 0, "already_in_pool"}, marker deleted, no duplicate', async () => {
  // executor-1 is available (fresh pool) and, by some earlier fault, also marked busy.
  await t.redis.set(keys.busyPrefix + 'executor-1', 'stale-eval');
  const reply = await t.pools.release(POOL, 'executor-1');
  assert.deepEqual(reply.reply.slice(0, 3), [1, 0, 'already_in_pool']);
  assert.equal(await t.redis.exists(keys.busyPrefix + 'executor-1'), 0);
  assert.equal(occurrences(await available(), 'executor-1'), 1);
});

test('release of an executor neither busy nor available (marker expired): {0, 0, "not_busy"}; pool unchanged', async () => {
  await t.pools.allocate(POOL, 'eval-a');
  await t.redis.del(keys.busyPrefix + 'executor-1'); // what the TTL would do
  const before = await available();
  const reply = await t.pools.release(POOL, 'executor-1');
  assert.deepEqual(reply.reply.slice(0, 3), [0, 0, 'not_busy']);
  assert.equal(reply.wasBusy, 0);
  assert.equal(reply.added, 0);
  assert.deepEqual(await available(), before);
});

test('a malformed entry in the list is skipped by the release, not fatal', async () => {
  await t.pools.allocate(POOL, 'eval-a');
  await t.redis.lpush(keys.available, 'not json', '{"no-url":1}');
  const reply = await t.pools.release(POOL, 'executor-1');
  assert.equal(reply.status, 'released');
  assert.equal((await t.redis.lrange(keys.available, 0, -1)).filter((e) => e === poolEntry('executor-1')).length, 1);
});

test('release of an executor that is not a member: PoolInputError, and no key is written', async () => {
  const keysBefore = (await t.redis.keys('*')).sort();
  await assert.rejects(t.pools.release(POOL, 'executor-99'), PoolInputError);
  await assert.rejects(t.pools.releaseNaive(POOL, 'executor-99'), PoolInputError);
  assert.deepEqual((await t.redis.keys('*')).sort(), keysBefore);
});

// ---------------------------------------------------------------- allocation

test('allocation is atomic under a burst: 50 concurrent calls on 8 executors, 8 distinct winners, 42 nulls', async () => {
  await t.pools.reset(POOL, 8);
  const callers = await Promise.all(Array.from({ length: 50 }, () => connectPools(redisServer.url)));
  try {
    await Promise.all(callers.map((c) => c.redis.ping())); // every connection open before the burst
    const replies = await Promise.all(callers.map((c, i) => c.pools.allocate(POOL, `burst-${i}`)));

    const won = replies.filter((r) => r !== null);
    assert.equal(won.length, 8);
    assert.equal(replies.filter((r) => r === null).length, 42);
    assert.deepEqual(won.map((r) => r.executor).sort(), executorUrls(8).sort(), 'each executor handed out exactly once');
    for (const allocation of won) {
      assert.equal(allocation.previousOwner, null);
      assert.equal(
        await t.redis.get(keys.busyPrefix + allocation.executor),
        `${allocation.evalId}@${allocation.token}`,
        'the marker is owned by the eval that got it, with its token',
      );
    }
    const snapshot = await t.pools.snapshot(POOL);
    assert.deepEqual(snapshot.available, []);
    assert.equal(Object.keys(snapshot.busy).length, 8);
  } finally {
    await Promise.all(callers.map((c) => c.close()));
  }
});

test('the busy marker has the configured TTL, or the one given per call', async () => {
  const allocation = await t.pools.allocate(POOL, 'eval-a');
  assert.equal(allocation?.ttlSeconds, 600);
  const pttl = await t.redis.pttl(keys.busyPrefix + allocation!.executor);
  assert.ok(pttl > 595_000 && pttl <= 600_000, `PTTL ${pttl} ≈ 600 s`);
  const snapshot = await t.pools.snapshot(POOL);
  const shown = snapshot.busyTtlMs[allocation!.executor]!;
  assert.ok(shown > 595_000 && shown <= 600_000, `snapshot shows the TTL left: ${shown}`);
  assert.equal(snapshot.busy[allocation!.executor], 'eval-a');

  const short = await t.pools.allocate(POOL, 'eval-b', 30);
  const shortTtl = await t.redis.pttl(keys.busyPrefix + short!.executor);
  assert.ok(shortTtl > 25_000 && shortTtl <= 30_000, `PTTL ${shortTtl} ≈ 30 s`);
});

test('an empty pool allocates null and changes nothing', async () => {
  await t.pools.reset(POOL, 1);
  assert.ok(await t.pools.allocate(POOL, 'eval-a'));
  const before = await t.pools.snapshot(POOL);
  assert.equal(await t.pools.allocate(POOL, 'eval-b'), null);
  const afterwards = await t.pools.snapshot(POOL);
  assert.deepEqual(afterwards.available, []);
  assert.deepEqual(afterwards.busy, before.busy);
});

test('a malformed entry makes allocation fail loudly instead of handing out garbage', async () => {
  await t.redis.rpush(keys.available, 'not json');
  await assert.rejects(t.pools.allocate(POOL, 'eval-a'), /malformed pool entry/);
});

// ---------------------------------------------------------------- double-release detection

/** The `/metrics` counter of double releases on POOL, as the server exposes it. */
async function doubleReleaseCount(): Promise<number> {
  const metric = await metrics.registry.getSingleMetric('idem_double_releases_total')?.get();
  return metric?.values.find((value) => value.labels.pool === POOL)?.value ?? 0;
}

test('two releases within the window: warning logged, event emitted, counter counts', async () => {
  await short.pools.allocate(POOL, 'eval-a');
  const warnings: DoubleReleaseWarning[] = [];
  const onWarning = (w: DoubleReleaseWarning) => warnings.push(w);
  short.pools.on('double-release', onWarning);
  try {
    const counterBefore = await doubleReleaseCount();
    // Both callbacks at once, as link and link_error fire: pipelined, so Redis runs them back to back.
    const [first, second] = await Promise.all([short.pools.release(POOL, 'executor-1'), short.pools.release(POOL, 'executor-1')]);
    assert.equal(first.status, 'released');
    assert.equal(second.status, 'already_in_pool');
    assert.equal(first.doubleRelease, false);
    assert.equal(second.doubleRelease, true);
    assert.ok(second.sinceLastReleaseMs !== null && second.sinceLastReleaseMs < WINDOW_MS);

    const lines = logged(short.logLines, 'Double release detected');
    assert.equal(lines.length, 1);
    assert.equal(lines[0]!.level, 'warn');
    assert.equal(lines[0]!.executor, 'executor-1');
    assert.equal(lines[0]!.pool, POOL);
    assert.equal(warnings.length, 1);
    assert.equal(warnings[0]!.executor, 'executor-1');
    assert.equal(await doubleReleaseCount(), counterBefore + 1);
    assert.equal(occurrences(await available(), 'executor-1'), 1);
  } finally {
    short.pools.off('double-release', onWarning);
  }
});

test('two releases further apart than the window (a real reuse): no warning', async () => {
  const counterBefore = await doubleReleaseCount();
  await short.pools.reset(POOL, 1);
  short.logLines.length = 0;
  await short.pools.allocate(POOL, 'eval-a');
  const first = await short.pools.release(POOL, 'executor-1');
  // A timing condition, not synchronisation: the window is about real time passing.
  await new Promise((resolve) => setTimeout(resolve, WINDOW_MS * 2));
  assert.equal((await short.pools.allocate(POOL, 'eval-b'))?.executor, 'executor-1');
  const second = await short.pools.release(POOL, 'executor-1');

  assert.equal(first.status, 'released');
  assert.equal(second.status, 'released');
  assert.ok(second.sinceLastReleaseMs !== null && second.sinceLastReleaseMs >= WINDOW_MS, `${second.sinceLastReleaseMs} ms apart`);
  assert.equal(second.doubleRelease, false);
  assert.deepEqual(logged(short.logLines, 'Double release detected'), []);
  assert.equal(await doubleReleaseCount(), counterBefore);
});

// ---------------------------------------------------------------- the naive release

test('the naive release duplicates the executor, and allocation then hands it to two evals', async () => {
  await t.pools.reset(POOL, 1);
  await t.pools.allocate(POOL, 'eval-a');
  await t.pools.releaseNaive(POOL, 'executor-1');
  await t.pools.releaseNaive(POOL, 'executor-1');
  assert.deepEqual(await available(), ['executor-1', 'executor-1'], 'in the pool twice');
  assert.deepEqual(logged(t.logLines, 'Double release detected'), [], 'and nobody was warned');

  const b = await t.pools.allocate(POOL, 'eval-b');
  const c = await t.pools.allocate(POOL, 'eval-c');
  assert.equal(b?.executor, 'executor-1');
  assert.equal(b?.previousOwner, null);
  assert.equal(c?.executor, 'executor-1', 'the same executor, handed out again');
  assert.equal(c?.previousOwner, 'eval-b', 'while eval-b still holds it');
  const shared = logged(t.logLines, 'Executor handed to two evals');
  assert.equal(shared.length, 1);
  assert.equal(shared[0]!.previousOwner, 'eval-b');
});

test('the same sequence with the Lua release: one entry, and the second allocation finds the pool empty', async () => {
  await t.pools.reset(POOL, 1);
  await t.pools.allocate(POOL, 'eval-a');
  await t.pools.release(POOL, 'executor-1');
  await t.pools.release(POOL, 'executor-1');
  assert.deepEqual(await available(), ['executor-1']);
  assert.equal((await t.pools.allocate(POOL, 'eval-b'))?.previousOwner, null);
  assert.equal(await t.pools.allocate(POOL, 'eval-c'), null);
});

// ---------------------------------------------------------------- reset and snapshot

test('reset makes a fresh pool: all available in order, no markers, no release times', async () => {
  await t.pools.allocate(POOL, 'eval-a');
  await t.pools.release(POOL, 'executor-1');
  await t.pools.allocate(POOL, 'eval-b');
  assert.equal(await t.pools.reset(POOL, 3), 3);
  const snapshot = await t.pools.snapshot(POOL);
  assert.deepEqual(snapshot.executors, ['executor-1', 'executor-2', 'executor-3']);
  assert.deepEqual(snapshot.available, ['executor-3', 'executor-2', 'executor-1'], 'head first; executor-1 is handed out first');
  assert.deepEqual(snapshot.busy, {});
  assert.deepEqual(
    (await t.redis.keys('*')).sort(),
    [keys.available, keys.members, keys.tokenCounter].sort(),
    'the token counter stays: tokens keep growing across resets',
  );
});

test('every key a pool writes starts with idem:{<pool>}:, and all of them hash to the pool\'s one slot', async () => {
  const a = await t.pools.allocate(POOL, 'eval-a');
  await t.pools.release(POOL, 'executor-1');
  const b = await t.pools.allocate(POOL, 'eval-b');
  await t.pools.releaseFenced(POOL, b!.executor, b!);
  await t.pools.releaseFenced(POOL, a!.executor, a!);
  await t.pools.allocate(POOL, 'eval-c');
  await t.pools.reclaim(POOL, 'sweep');
  const all = await t.redis.keys('*');
  assert.ok(all.length >= 5, all.join(' '));
  for (const key of all) {
    assert.ok(key.startsWith(`idem:{${POOL}}:`), key);
    assert.equal(keySlot(key), keySlot(POOL), key);
  }
});

// ---------------------------------------------------------------- the script loader

test('each script declares in its header exactly the KEYS its code uses', () => {
  const expected: Record<string, number> = {
    allocate_executor_fenced: 3,
    note_presenter_seen: 1,
    raise_token_counter: 1,
    read_pool: 3,
    reclaim_executors: 3,
    release_executor: 3,
    release_executor_fenced: 2,
    reset_pool: 4,
    restore_deck: 1,
    save_deck: 1,
  };
  assert.deepEqual(listScripts(), Object.keys(expected).sort(), 'every script of lua/ has its expected key count here');
  for (const [name, count] of Object.entries(expected)) assert.equal(readScript(name).numberOfKeys, count, name);
  for (const name of listScripts()) {
    const { source, numberOfKeys } = readScript(name);
    assert.doesNotMatch(source, /@include/, `lua/${name}: every include inlined`);
    const body = source.replace(/^--\[\[[\s\S]*?\]\]/, '');
    const used = Math.max(0, ...[...body.matchAll(/KEYS\[(\d+)\]/g)].map((m) => Number(m[1])));
    assert.equal(numberOfKeys, used, `lua/${name}.lua: header declares ${numberOfKeys} keys, code uses ${used}`);
  }
});

test('a script run with the wrong number of keys is refused before it reaches Redis', async () => {
  const run = loadScripts(t.redis);
  assert.throws(() => run('release_executor', [keys.available], []), /takes 3 keys, got 1/);
  assert.throws(() => run('no_such_script', [], []), /no script/);
});

test('EVALSHA falls back to EVAL after SCRIPT FLUSH: the release still works, and Redis has the script again', async () => {
  await t.pools.allocate(POOL, 'eval-a');
  await t.pools.release(POOL, 'executor-1'); // cached by SHA now
  await t.pools.allocate(POOL, 'eval-b');
  await t.redis.script('FLUSH');
  const sha = (await t.redis.script('LOAD', readScript('release_executor').source)) as string;
  await t.redis.script('FLUSH');
  assert.deepEqual(await t.redis.script('EXISTS', sha), [0]);

  const reply = await t.pools.release(POOL, 'executor-2');
  assert.equal(reply.status, 'released');
  assert.equal(occurrences(await available(), 'executor-2'), 1);
  assert.deepEqual(await t.redis.script('EXISTS', sha), [1], 'the fallback EVAL loaded it again');
});

// ---------------------------------------------------------------- the late duplicate, and its fence

/** A pool of one: eval-a takes executor-1, its first callback releases it, eval-b takes it next. */
async function lateDuplicateSetUp() {
  await t.pools.reset(POOL, 1);
  const a = await t.pools.allocate(POOL, 'eval-a');
  assert.equal(a?.executor, 'executor-1');
  return a!;
}

test("the talk's release and a late callback: eval-a's second release frees eval-b's executor, and eval-c is handed it", async () => {
  await lateDuplicateSetUp();
  assert.equal((await t.pools.release(POOL, 'executor-1')).status, 'released'); // eval-a's link
  assert.equal((await t.pools.allocate(POOL, 'eval-b'))?.executor, 'executor-1');
  const late = await t.pools.release(POOL, 'executor-1'); // eval-a's link_error, late: eval-b holds executor-1 now
  assert.deepEqual(late.reply.slice(0, 3), [1, 1, 'released'], 'the script cannot tell eval-a from eval-b');
  assert.equal(late.doubleRelease, true, 'the warning fires here (less than the window apart) but refuses nothing; further apart, not even that');
  const snapshot = await t.pools.snapshot(POOL);
  assert.equal(snapshot.busy['executor-1'], undefined, "eval-b's marker is gone");
  assert.deepEqual(snapshot.available, ['executor-1'], 'and its executor is available while eval-b runs on it');
  const c = await t.pools.allocate(POOL, 'eval-c');
  assert.equal(c?.executor, 'executor-1', 'two evals on one executor, and nothing noticed');
  assert.equal(c?.previousOwner, null);
});

test("the fenced release and the same late callback: stale_release, eval-b keeps executor-1, eval-c finds the pool empty", async () => {
  const a = await lateDuplicateSetUp();
  const first = await t.pools.releaseFenced(POOL, 'executor-1', a);
  assert.deepEqual(first.reply, ['released']);
  const b = await t.pools.allocate(POOL, 'eval-b');
  assert.equal(b?.executor, 'executor-1');
  assert.ok(b!.token > a.token, `tokens grow: ${a.token} then ${b!.token}`);

  const keysBefore = await dump();
  const late = await t.pools.releaseFenced(POOL, 'executor-1', a);
  assert.deepEqual(late.reply, ['stale_release', b!.token], "refused, and the reply names the token that holds it");
  assert.deepEqual({ wasBusy: late.wasBusy, added: late.added, status: late.status }, { wasBusy: 0, added: 0, status: 'stale_release' });
  assert.deepEqual(await dump(), keysBefore, 'a stale release changes nothing');

  const snapshot = await t.pools.snapshot(POOL);
  assert.equal(snapshot.busy['executor-1'], 'eval-b', 'eval-b still holds executor-1');
  assert.equal(snapshot.busyToken?.['executor-1'], b!.token);
  assert.equal(await t.pools.allocate(POOL, 'eval-c'), null, 'so nobody else can get it');
  assert.deepEqual((await t.pools.releaseFenced(POOL, 'executor-1', b!)).reply, ['released'], "eval-b's own release frees it");
});

/** Every key of the Redis with its value, to prove a call changed nothing (TTLs left out: they tick). */
async function dump(): Promise<Record<string, unknown>> {
  const out: Record<string, unknown> = {};
  for (const key of (await t.redis.keys('*')).sort()) {
    const type = await t.redis.type(key);
    out[key] =
      type === 'list' ? await t.redis.lrange(key, 0, -1)
      : type === 'set' ? (await t.redis.smembers(key)).sort()
      : await t.redis.get(key);
  }
  return out;
}

test('fenced release: a second release with the same token is stale; so is one after the marker expired, and one of a made-up executor', async () => {
  const a = (await t.pools.allocate(POOL, 'eval-a'))!;
  assert.equal((await t.pools.releaseFenced(POOL, a.executor, a)).status, 'released');
  assert.deepEqual((await t.pools.releaseFenced(POOL, a.executor, a)).reply, ['stale_release', 0], 'no marker: held 0');
  assert.equal(occurrences(await available(), a.executor), 1);

  const b = (await t.pools.allocate(POOL, 'eval-b'))!;
  await t.redis.del(keys.busyPrefix + b.executor); // what the TTL would do
  const before = await dump();
  assert.deepEqual((await t.pools.releaseFenced(POOL, b.executor, b)).reply, ['stale_release', 0]);
  assert.deepEqual(await dump(), before, 'an expired owner cannot put the executor back: that is the reaper\'s job');

  assert.deepEqual((await t.pools.releaseFenced(POOL, 'executor-99', { evalId: 'eval-x', token: 1 })).reply, ['stale_release', 0]);
  assert.deepEqual(await dump(), before, 'no key for a stranger\'s url');
});

test('fenced release: a marker the talk wrote (no token) is never freed by a token', async () => {
  await t.redis.rpop(keys.available);
  await t.redis.set(keys.busyPrefix + 'executor-1', 'eval-old');
  for (const token of [1, 2, 99]) {
    assert.deepEqual((await t.pools.releaseFenced(POOL, 'executor-1', { evalId: 'eval-old', token })).reply, ['stale_release', 0]);
  }
  assert.equal(await t.redis.get(keys.busyPrefix + 'executor-1'), 'eval-old');
});

test('fenced release: the token alone is not enough, nor the eval alone; only the owner the marker names', async () => {
  await t.pools.reset(POOL, 1);
  const a = (await t.pools.allocate(POOL, 'eval-a'))!;
  const before = await dump();
  for (const impostor of [{ evalId: 'eval-z', token: a.token }, { evalId: 'eval-a', token: a.token + 1 }, { evalId: 'eval-a@1', token: a.token }]) {
    assert.deepEqual((await t.pools.releaseFenced(POOL, a.executor, impostor)).reply, ['stale_release', a.token], JSON.stringify(impostor));
  }
  assert.deepEqual(await dump(), before, 'nothing changed');
  assert.equal((await t.pools.releaseFenced(POOL, a.executor, a)).status, 'released');
  assert.deepEqual(await available(), [a.executor]);
});

test('tokens only grow: across allocations, releases and a pool reset', async () => {
  const tokens: number[] = [];
  for (let round = 0; round < 3; round++) {
    for (let i = 0; i < 4; i++) tokens.push((await t.pools.allocate(POOL, `eval-${round}-${i}`))!.token);
    await t.pools.reset(POOL);
  }
  assert.deepEqual(tokens, [...tokens].sort((x, y) => x - y));
  assert.equal(new Set(tokens).size, tokens.length, 'no token handed out twice');
  // A callback from before the reset cannot free an executor allocated after it.
  const fresh = (await t.pools.allocate(POOL, 'eval-new'))!;
  assert.equal((await t.pools.releaseFenced(POOL, fresh.executor, { evalId: 'eval-new', token: tokens[0]! })).status, 'stale_release');
});

test('tokens only grow when Redis forgets its counter (FLUSHALL, as an empty restart): the pools know the highest, and start above it', async () => {
  const handed = [(await t.pools.allocate(POOL, 'eval-a'))!.token, (await t.pools.allocate(POOL, 'eval-b'))!.token];
  await t.redis.flushall();
  await t.pools.reset(POOL);
  const next = (await t.pools.allocate(POOL, 'eval-c'))!.token;
  assert.ok(next > Math.max(...handed), `${next} after ${handed.join(', ')}`);
  // A fresh counter raised to what the pools know; never lowered by it.
  await t.redis.flushall();
  await t.pools.raiseTokenCounter(POOL);
  assert.equal(Number(await t.redis.get(keys.tokenCounter)), next);
  await t.redis.set(keys.tokenCounter, next + 10);
  await t.pools.raiseTokenCounter(POOL);
  assert.equal(Number(await t.redis.get(keys.tokenCounter)), next + 10);
});

test('whatever mix of releases ran, the reaper puts back only what is neither busy nor listed, and never lists a url twice', async () => {
  const a = (await t.pools.allocate(POOL, 'eval-a'))!;
  const b = (await t.pools.allocate(POOL, 'eval-b'))!;
  await t.pools.releaseFenced(POOL, a.executor, a);
  await t.redis.del(keys.busyPrefix + b.executor); // b's TTL ran out
  assert.deepEqual(await t.pools.reclaim(POOL, 'sweep'), [b.executor]);
  assert.equal((await t.pools.releaseFenced(POOL, b.executor, b)).status, 'stale_release', "b's late release finds its marker gone");
  const c = (await t.pools.allocate(POOL, 'eval-c'))!;
  await t.pools.release(POOL, c.executor); // the talk's release, on the same pool
  assert.deepEqual(await t.pools.reclaim(POOL, 'sweep'), [], 'the reaper never duplicates what a release pushed');
  for (const url of new Set(await available())) assert.equal(occurrences(await available(), url), 1, url);
});

// ---------------------------------------------------------------- Redis Cluster: one slot per script call

test("every script call's keys (and the keys it builds from a prefix) hash to one cluster slot, each pool its own", async () => {
  const calls: { name: string; keys: string[]; args: (string | number)[] }[] = [];
  const run = loadScripts(t.redis);
  const recording = new ExecutorPools(t.redis, (name, k, args) => {
    calls.push({ name, keys: k, args });
    return run(name, k, args);
  }, TEST_POOL_OPTIONS, createCapturingLogger().logger);
  const pools = ['main', 'attempt-1', 'late-duplicate', POOL];
  for (const pool of pools) {
    await recording.reset(pool, 3);
    const a = (await recording.allocate(pool, 'eval-a'))!;
    await recording.release(pool, a.executor);
    const b = (await recording.allocate(pool, 'eval-b'))!;
    await recording.releaseFenced(pool, b.executor, b);
    await recording.snapshot(pool);
    await recording.reclaim(pool, 'sweep');
    await recording.raiseTokenCounter(pool);
  }
  // The hall's scripts each take one key of the hall's own slot.
  const hallScripts = ['note_presenter_seen', 'restore_deck', 'save_deck'];
  assert.deepEqual([...new Set(calls.map((c) => c.name))].sort(), listScripts().filter((name) => !hallScripts.includes(name)), 'every pool script was called');
  assert.equal(keySlot(DECK_KEY), keySlot(PRESENTER_SEEN_KEY), 'the hall keys share a slot');
  const slotOfPool = new Map<string, number>();
  for (const call of calls) {
    // A key ending in ":" is a prefix the script completes with an executor url from the pool.
    const touched = call.keys.flatMap((key) => (key.endsWith(':') ? [key + 'executor-1', key + 'executor-3'] : [key]));
    const slots = new Set(touched.map(keySlot));
    assert.equal(slots.size, 1, `${call.name}: ${touched.join(', ')} in ${slots.size} slots`);
    const pool = /^idem:\{([^}]+)\}:/.exec(call.keys[0]!)![1]!;
    slotOfPool.set(pool, [...slots][0]!);
  }
  assert.equal(new Set(slotOfPool.values()).size, pools.length, 'different pools, different slots');
});
