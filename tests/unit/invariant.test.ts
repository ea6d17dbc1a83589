import { test } from 'node:test';
import assert from 'node:assert/strict';
import { checkInvariant } from '../../server/pool/invariant.ts';
import type { PoolSnapshot } from '../../server/protocol.ts';

const snapshot = (available: string[], busy: Record<string, string>): PoolSnapshot => ({
  pool: 'p',
  available,
  busy,
  busyTtlMs: Object.fromEntries(Object.keys(busy).map((url) => [url, 5000])),
  executors: ['executor-1', 'executor-2', 'executor-3'],
  readAt: 0,
});

test('a pool where each executor is available xor busy is sound', () => {
  const verdict = checkInvariant(snapshot(['executor-2', 'executor-1'], { 'executor-3': 'eval-a' }));
  assert.equal(verdict.sound, true);
  assert.deepEqual(verdict.problems, []);
  assert.match(verdict.summary, /all 3 executors accounted for/);
});

test('a duplicate in the available list is named, with how many times', () => {
  const verdict = checkInvariant(snapshot(['executor-1', 'executor-1', 'executor-2'], { 'executor-3': 'eval-a' }));
  assert.equal(verdict.sound, false);
  assert.equal(verdict.duplicated, 1);
  assert.match(verdict.problems.join('\n'), /executor-1 is in the available list 2 times/);
});

test('an executor neither available nor busy is lost', () => {
  const verdict = checkInvariant(snapshot(['executor-1'], { 'executor-3': 'eval-a' }));
  assert.equal(verdict.lost, 1);
  assert.match(verdict.problems.join('\n'), /executor-2 is lost/);
});

test('available and busy at once is a problem', () => {
  const verdict = checkInvariant(snapshot(['executor-1', 'executor-2', 'executor-3'], { 'executor-3': 'eval-a' }));
  assert.match(verdict.problems.join('\n'), /executor-3 is available and busy at once \(held by eval-a\)/);
});

test('still busy for an eval that has finished is a leak, with the TTL that will end it', () => {
  const state = snapshot(['executor-1', 'executor-2'], { 'executor-3': 'eval-done' });
  assert.equal(checkInvariant(state).sound, true, 'without knowing the eval finished, it looks busy and fine');
  const verdict = checkInvariant(state, new Set(['eval-done']));
  assert.equal(verdict.sound, false);
  assert.match(verdict.problems.join('\n'), /executor-3 leaked: still busy for eval-done.*5 s/);
});

test('an entry that is not an executor of the pool is reported', () => {
  const verdict = checkInvariant(snapshot(['executor-1', 'executor-2', 'stranger'], { 'executor-3': 'eval-a' }));
  assert.match(verdict.problems.join('\n'), /stranger is in the available list but is not an executor/);
});
