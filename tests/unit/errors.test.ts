/**
 * One mapping from a fault to what a client is told, for HTTP and sockets alike.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { z } from 'zod';
import { ClientError, httpStatus, parseOrThrow, toApiError } from '../../server/errors.ts';
import { PoolInputError } from '../../server/pool/executorPool.ts';
import { ReleaseRequest } from '../../server/protocol.ts';

test('each error code has its HTTP status', () => {
  assert.deepEqual(
    (['bad_request', 'forbidden', 'pool_empty', 'rate_limited', 'redis_unavailable', 'internal'] as const).map(httpStatus),
    [400, 403, 409, 429, 503, 500],
  );
});

test('client errors and pool input errors are passed on as they are', () => {
  assert.deepEqual(toApiError(new ClientError('pool_empty', 'pool "main" is empty')), { error: 'pool_empty', message: 'pool "main" is empty' });
  assert.deepEqual(toApiError(new PoolInputError('executor "x" is not in pool "main"')), {
    error: 'bad_request',
    message: 'executor "x" is not in pool "main"',
  });
});

test('Redis going away is redis_unavailable, whatever ioredis calls it', () => {
  for (const message of [
    'connect ECONNREFUSED 127.0.0.1:6390',
    'Connection is closed.',
    'Reached the max retries per request limit (which is 2). Refer to "maxRetriesPerRequest" option for details.',
    'connect ETIMEDOUT',
    "Stream isn't writeable and enableOfflineQueue options is false",
  ]) {
    assert.deepEqual(toApiError(new Error(message)), { error: 'redis_unavailable', message: 'Redis is not answering' }, message);
  }
});

test('anything else is internal, and its text is not shown to the client', () => {
  assert.deepEqual(toApiError(new Error('secret detail at /srv/app.ts:12')), { error: 'internal', message: 'internal error' });
  assert.deepEqual(toApiError('a thrown string'), { error: 'internal', message: 'internal error' });
  assert.deepEqual(toApiError(undefined), { error: 'internal', message: 'internal error' });
});

test('parseOrThrow returns the parsed value, or a bad_request naming each problem by its path', () => {
  assert.deepEqual(parseOrThrow(ReleaseRequest, { executor: 'executor-1' }), { executor: 'executor-1' });
  assert.throws(
    () => parseOrThrow(ReleaseRequest, { executor: 1, pool: 'BAD' }),
    (error: unknown) => {
      assert.ok(error instanceof ClientError);
      assert.equal(error.code, 'bad_request');
      assert.match(error.message, /executor: /);
      assert.match(error.message, /pool: pool name/);
      return true;
    },
  );
  assert.throws(() => parseOrThrow(z.strictObject({}), 42), (error: unknown) => error instanceof ClientError && error.message.length > 0);
});
