/**
 * The per-viewer token bucket, on an injected clock: no waiting, exact numbers.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { RateLimiter } from '../../server/rateLimit.ts';

function clock(start = 1_000_000) {
  let now = start;
  return { now: () => now, advance: (ms: number) => void (now += ms) };
}

const takes = (limiter: RateLimiter, key: string, n: number) => Array.from({ length: n }, () => limiter.take(key));

test('a full bucket allows `burst` actions at once, then refuses', () => {
  const c = clock();
  const limiter = new RateLimiter(5, 10, c.now);
  assert.deepEqual(takes(limiter, 'v', 10), Array(10).fill(true));
  assert.equal(limiter.take('v'), false);
  assert.equal(limiter.take('v'), false);
});

test('tokens come back at `perSecond`, one per 1/perSecond seconds', () => {
  const c = clock();
  const limiter = new RateLimiter(5, 2, c.now);
  takes(limiter, 'v', 2);
  assert.equal(limiter.take('v'), false);
  c.advance(199);
  assert.equal(limiter.take('v'), false, 'not quite one token yet');
  c.advance(1);
  assert.equal(limiter.take('v'), true, 'one token after 200 ms at 5/s');
  assert.equal(limiter.take('v'), false);
});

test('a refused action costs nothing: the time before it still counts', () => {
  const c = clock();
  const limiter = new RateLimiter(1, 1, c.now);
  assert.equal(limiter.take('v'), true);
  c.advance(500);
  assert.equal(limiter.take('v'), false);
  c.advance(500);
  assert.equal(limiter.take('v'), true, 'a full second since the last success');
});

test('a long pause refills to `burst`, never beyond', () => {
  const c = clock();
  const limiter = new RateLimiter(10, 3, c.now);
  takes(limiter, 'v', 3);
  c.advance(3_600_000);
  assert.deepEqual(takes(limiter, 'v', 4), [true, true, true, false]);
});

test('fractional rates: 0.5 per second is one action every 2 s', () => {
  const c = clock();
  const limiter = new RateLimiter(0.5, 1, c.now);
  assert.equal(limiter.take('v'), true);
  c.advance(1_999);
  assert.equal(limiter.take('v'), false);
  c.advance(1);
  assert.equal(limiter.take('v'), true);
});

test('each viewer has a bucket of its own', () => {
  const c = clock();
  const limiter = new RateLimiter(1, 2, c.now);
  takes(limiter, 'socket:a', 2);
  assert.equal(limiter.take('socket:a'), false);
  assert.deepEqual(takes(limiter, 'socket:b', 2), [true, true]);
  assert.deepEqual(takes(limiter, 'ip:127.0.0.1', 2), [true, true]);
});

test('forget() gives a viewer a full bucket again', () => {
  const c = clock();
  const limiter = new RateLimiter(1, 2, c.now);
  takes(limiter, 'v', 3);
  limiter.forget('v');
  assert.deepEqual(takes(limiter, 'v', 3), [true, true, false]);
});

test('sweep() drops the buckets that have refilled and keeps the others', () => {
  const c = clock();
  const limiter = new RateLimiter(1, 2, c.now);
  const buckets = (limiter as unknown as { buckets: Map<string, unknown> }).buckets;
  limiter.take('idle');
  c.advance(1_000); // 'idle' is full again
  limiter.take('busy');
  limiter.take('busy');
  limiter.sweep();
  assert.deepEqual([...buckets.keys()], ['busy']);
  assert.equal(limiter.take('busy'), false, 'sweeping kept what the busy viewer had spent');
  c.advance(2_000);
  limiter.sweep();
  assert.equal(buckets.size, 0);
});
