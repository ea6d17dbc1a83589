/**
 * Where a pool lives in Redis: one prefix with one hash tag, and busy-marker keys
 * that parse back to their pool and executor.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { KEY_PREFIX, parseBusyKey, poolKeys } from '../../server/pool/keys.ts';

const POOLS = ['main', 'attempt-1', 'edge-case-test', 'a', '0', 'x'.repeat(32)];
const EXECUTORS = ['executor-1', 'executor-64', 'http://10.0.0.7:8080/exec', 'worker@host', 'a:busy:b'];

test('every key of a pool starts with idem:{pool}:<pool>:', () => {
  assert.equal(KEY_PREFIX, 'idem:{pool}:');
  for (const pool of POOLS) {
    const keys = poolKeys(pool);
    const all = [keys.available, keys.members, ...EXECUTORS.flatMap((url) => [keys.busyPrefix + url, keys.releaseTimesPrefix + url])];
    for (const key of all) {
      assert.ok(key.startsWith(`idem:{pool}:${pool}:`), key);
      // One hash tag, so a script's keys all land in one cluster slot: the first {...} is {pool}.
      assert.equal(/\{([^}]*)\}/.exec(key)?.[1], 'pool', key);
    }
  }
});

test('the four kinds of key are distinct, and no pool reaches into another', () => {
  const keys = poolKeys('main');
  assert.equal(new Set([keys.available, keys.members, keys.busyPrefix, keys.releaseTimesPrefix]).size, 4);
  // "a" must not see "a-b"'s keys as its own: a pool's base ends with ":", which no pool name holds.
  for (const p of ['a', 'a-b', 'ab']) {
    for (const q of ['a', 'a-b', 'ab']) {
      if (p === q) continue;
      const other = poolKeys(q);
      for (const key of [other.available, other.members, other.busyPrefix + 'executor-1']) {
        assert.ok(!key.startsWith(`${KEY_PREFIX}${p}:`), `${key} is not ${p}'s`);
      }
    }
  }
});

test('parseBusyKey turns a busy-marker key back into its pool and executor', () => {
  for (const pool of POOLS) {
    for (const executor of EXECUTORS) {
      assert.deepEqual(parseBusyKey(poolKeys(pool).busyPrefix + executor), { pool, executor });
    }
  }
});

test('parseBusyKey: null for every key that is not a busy marker', () => {
  const keys = poolKeys('main');
  for (const key of [
    keys.available,
    keys.members,
    keys.releaseTimesPrefix + 'executor-1',
    keys.releaseTimesPrefix + 'x:busy:y',
    keys.busyPrefix, // no executor
    'idem:{pool}:',
    'idem:{pool}:Main:busy:executor-1', // not a pool name
    'idem:{pool}:ma in:busy:executor-1',
    'idem:pool:main:busy:executor-1', // no hash tag
    'other:{pool}:main:busy:executor-1',
    'bull:evals:1',
    '',
  ]) {
    assert.equal(parseBusyKey(key), null, JSON.stringify(key));
  }
});
