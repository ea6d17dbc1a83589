/**
 * Where a pool lives in Redis: one prefix per pool holding the pool's own hash
 * tag, busy-marker keys that parse back to their pool and executor, and the
 * cluster slot computed as Redis Cluster computes it.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseBusyKey, poolKeyPrefix, poolKeys } from '../../server/pool/keys.ts';
import { crc16, hashTag, keySlot } from '../../server/redis/keySlot.ts';

const POOLS = ['main', 'attempt-1', 'edge-case-test', 'a', '0', 'x'.repeat(32)];
const EXECUTORS = ['executor-1', 'executor-64', 'http://10.0.0.7:8080/exec', 'worker@host', 'a:busy:b', 'x}{y'];

function allKeys(pool: string): string[] {
  const keys = poolKeys(pool);
  return [
    keys.available,
    keys.members,
    keys.tokenCounter,
    ...EXECUTORS.flatMap((url) => [keys.busyPrefix + url, keys.releaseTimesPrefix + url]),
  ];
}

test('every key of a pool starts with idem:{<pool>}: and its hash tag is the pool', () => {
  for (const pool of POOLS) {
    assert.equal(poolKeyPrefix(pool), `idem:{${pool}}:`);
    for (const key of allKeys(pool)) {
      assert.ok(key.startsWith(`idem:{${pool}}:`), key);
      assert.equal(hashTag(key), pool, key);
    }
  }
});

test('the five kinds of key are distinct, and no pool reaches into another', () => {
  const keys = poolKeys('main');
  const kinds = [keys.available, keys.members, keys.busyPrefix, keys.releaseTimesPrefix, keys.tokenCounter];
  assert.equal(new Set(kinds).size, kinds.length);
  for (const p of ['a', 'a-b', 'ab']) {
    for (const q of ['a', 'a-b', 'ab']) {
      if (p === q) continue;
      for (const key of allKeys(q)) assert.ok(!key.startsWith(poolKeyPrefix(p)), `${key} is not ${p}'s`);
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
    keys.tokenCounter,
    keys.releaseTimesPrefix + 'executor-1',
    keys.releaseTimesPrefix + 'x:busy:y',
    keys.busyPrefix, // no executor
    'idem:{main}:',
    'idem:{Main}:busy:executor-1', // not a pool name
    'idem:{ma in}:busy:executor-1',
    'idem:{}:busy:executor-1',
    'idem:main:busy:executor-1', // no hash tag
    'idem:{pool}:main:busy:executor-1', // the old layout: "pool:main" is no pool name
    'other:{main}:busy:executor-1',
    'bull:evals:1',
    '',
  ]) {
    assert.equal(parseBusyKey(key), null, JSON.stringify(key));
  }
});

test('keySlot agrees with Redis Cluster on known keys', () => {
  // CRC16/XMODEM check value, and slots from the Redis Cluster specification and `CLUSTER KEYSLOT`.
  assert.equal(crc16(Buffer.from('123456789')), 0x31c3);
  assert.equal(keySlot('foo'), 12182);
  assert.equal(keySlot('bar'), 5061);
  assert.equal(keySlot('{user1000}.following'), keySlot('{user1000}.followers'));
  assert.equal(keySlot('{user1000}.following'), keySlot('user1000'));
  assert.equal(hashTag('foo{}{bar}'), 'foo{}{bar}', 'an empty first tag: the whole key is hashed');
  assert.equal(hashTag('foo{{bar}}zap'), '{bar', 'the tag runs to the first } after the first {');
  assert.equal(hashTag('foo{bar}{zap}'), 'bar', 'only the first tag counts');
  assert.equal(hashTag('foo{bar'), 'foo{bar', 'no closing brace: the whole key');
});

test('pools spread over cluster slots: each pool one slot, different pools mostly different slots', () => {
  const pools = ['main', 'innocent-pattern', 'attempt-1', 'attempt-2', 'attempt-3', 'ttl-safety-net', 'atomic-allocation', 'edge-case-test', 'late-duplicate'];
  const slots = new Set<number>();
  for (const pool of pools) {
    const own = new Set(allKeys(pool).map(keySlot));
    assert.equal(own.size, 1, `all of ${pool}'s keys in one slot`);
    slots.add([...own][0]!);
  }
  assert.equal(slots.size, pools.length, `the ${pools.length} pools land in ${slots.size} slots`);
});
