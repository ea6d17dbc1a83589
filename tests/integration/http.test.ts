/**
 * The HTTP API over real HTTP (fetch) against the whole site, each site with a
 * private redis-server of its own: every endpoint, every kind of bad input (a
 * 400/413 with {error, message} that changes nothing in Redis), the presenter
 * check, the per-viewer rate limit, and health when Redis is gone.
 */
import { after, before, beforeEach, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { startPrivateRedis } from '../../server/redis/privateRedis.ts';
import type { AllocateReply, ApiError, PoolSnapshot, ReleaseReply } from '../../server/protocol.ts';
import { GENEROUS_LIMITS, openAllPanels, PRESENTER_SECRET, startSite, type Site } from '../support/site.ts';
import { occurrences, poolState, redisCommandsDuring } from '../support/redis.ts';
import { AllocateRequest, ReleaseRequest, ResetRequest, WatchRequest } from '../../server/protocol.ts';
import { parseOrThrow } from '../../server/errors.ts';
import type { z } from 'zod';

/** What `schema` says of `input`: the message a route that parses by it must answer with. */
function schemaSays(schema: z.ZodType, input: unknown): string {
  try {
    parseOrThrow(schema, input);
  } catch (error) {
    return (error as Error).message;
  }
  throw new Error(`the schema accepts ${JSON.stringify(input)}: not a schema case`);
}

const PRESENTER = { authorization: `Bearer ${PRESENTER_SECRET}` };

interface Reply<T> {
  status: number;
  contentType: string | null;
  body: T;
}

/** One request; `raw` is sent as it is (with a JSON content type unless `headers` say otherwise). */
async function call<T = unknown>(
  site: Site,
  method: string,
  path: string,
  options: { json?: unknown; raw?: string; headers?: Record<string, string> } = {},
): Promise<Reply<T>> {
  const body = options.raw ?? (options.json === undefined ? undefined : JSON.stringify(options.json));
  const response = await fetch(`${site.url}${path}`, {
    method,
    headers: { ...(body === undefined && method === 'GET' ? {} : { 'content-type': 'application/json' }), ...options.headers },
    body,
  });
  const text = await response.text();
  return { status: response.status, contentType: response.headers.get('content-type'), body: (text ? JSON.parse(text) : undefined) as T };
}

/** Everything Redis holds for the site: the pool as read, and every key (a bad request must not add one), less the rate limiter's (they expire on their own). */
/**
 * The pool and every key a request could have written. Left out: the rate limits'
 * counters (a refused request still spends its budget) and socket.io's own stream,
 * which the hall's messages create whenever the first of them goes out.
 */
async function redisState(site: Site) {
  const background = (key: string) => key.startsWith('idem:{limits}:') || key.startsWith('idem:socket.io');
  return { pool: poolState(await site.actions.pools.snapshot('main')), keys: (await site.redis.keys('*')).filter((key) => !background(key)).sort() };
}

function assertApiError(reply: Reply<unknown>, status: number, error: ApiError['error']): void {
  assert.equal(reply.status, status);
  assert.match(reply.contentType ?? '', /application\/json/);
  const body = reply.body as ApiError;
  assert.equal(body.error, error);
  assert.equal(typeof body.message, 'string');
  assert.ok(body.message.length > 0, 'a message saying what was wrong');
}

let site: Site;

before(async () => {
  // No rate limit to speak of here: the bad-input table alone sends dozens of actions.
  // No sweep either: the bad-input table counts the commands Redis runs.
  site = await startSite({ ...GENEROUS_LIMITS, REAPER_SWEEP_MS: '3600000' });
  openAllPanels(site);
});

after(async () => {
  await site?.close();
});

beforeEach(async () => {
  await site.actions.pools.reset('main');
});

test('GET /healthz: 200 {"redis": "ok"}', async () => {
  const reply = await call<{ redis: string; uptimeSeconds: number }>(site, 'GET', '/healthz');
  assert.equal(reply.status, 200);
  assert.equal(reply.body.redis, 'ok');
  assert.equal(typeof reply.body.uptimeSeconds, 'number');
});

test('GET /api/pool: the pool as Redis holds it', async () => {
  const reply = await call<PoolSnapshot>(site, 'GET', '/api/pool');
  assert.equal(reply.status, 200);
  assert.deepEqual(Object.keys(reply.body).sort(), ['available', 'busy', 'busyToken', 'busyTtlMs', 'executors', 'pool', 'readAt']);
  assert.equal(reply.body.pool, 'main');
  assert.deepEqual(reply.body.executors, ['executor-1', 'executor-2', 'executor-3', 'executor-4']);
  assert.deepEqual([...reply.body.available].sort(), reply.body.executors);
  assert.deepEqual(reply.body.busy, {});
  assert.deepEqual(reply.body.busyTtlMs, {});
  assert.ok(Math.abs(reply.body.readAt - Date.now()) < 5_000);
  assert.deepEqual((await call<PoolSnapshot>(site, 'GET', '/api/pool?pool=main')).body.executors, reply.body.executors);
});

test('POST /api/allocate: 200 with the allocation until the pool is empty, then 409 pool_empty', async () => {
  const seen: string[] = [];
  for (let i = 1; i <= 4; i++) {
    const reply = await call<AllocateReply>(site, 'POST', '/api/allocate', { json: { evalId: `eval-${i}` } });
    assert.equal(reply.status, 200);
    assert.deepEqual(Object.keys(reply.body).sort(), ['evalId', 'executor', 'previousOwner', 'reply', 'token', 'ttlSeconds']);
    assert.deepEqual(reply.body.reply, [JSON.stringify({ url: reply.body.executor }), '', reply.body.token], "the script's own reply: [entry, previous marker, token]");
    assert.ok(Number.isInteger(reply.body.token) && reply.body.token > 0, `token ${reply.body.token}`);
    assert.equal(reply.body.evalId, `eval-${i}`);
    assert.equal(reply.body.previousOwner, null);
    assert.equal(reply.body.ttlSeconds, 600);
    seen.push(reply.body.executor);
  }
  assert.deepEqual(seen.sort(), ['executor-1', 'executor-2', 'executor-3', 'executor-4']);
  const before = await redisState(site);
  assertApiError(await call(site, 'POST', '/api/allocate', { json: { evalId: 'eval-5' } }), 409, 'pool_empty');
  assert.deepEqual(await redisState(site), before);

  const snapshot = (await call<PoolSnapshot>(site, 'GET', '/api/pool')).body;
  assert.equal(snapshot.busy['executor-1'], 'eval-1');
  assert.ok(snapshot.busyTtlMs['executor-1']! > 590_000);
});

test('POST /api/release: the script reply, released then already_in_pool with the double release flagged', async () => {
  const allocation = (await call<AllocateReply>(site, 'POST', '/api/allocate', { json: { evalId: 'eval-1' } })).body;
  const first = await call<ReleaseReply>(site, 'POST', '/api/release', { json: { executor: allocation.executor } });
  assert.equal(first.status, 200);
  assert.deepEqual(Object.keys(first.body).sort(), ['added', 'doubleRelease', 'executor', 'reply', 'sinceLastReleaseMs', 'status', 'wasBusy']);
  assert.equal(first.body.executor, allocation.executor);
  assert.equal(first.body.status, 'released');
  assert.equal(first.body.wasBusy, 1);
  assert.equal(first.body.added, 1);
  assert.equal(first.body.doubleRelease, false);
  assert.equal(first.body.sinceLastReleaseMs, null);
  assert.equal(first.body.reply.length, 5);
  assert.deepEqual(first.body.reply.slice(0, 3), [1, 1, 'released']);
  assert.equal(first.body.reply[4], -1);

  const second = await call<ReleaseReply>(site, 'POST', '/api/release', { json: { executor: allocation.executor, pool: 'main' } });
  assert.equal(second.status, 200);
  assert.deepEqual(second.body.reply.slice(0, 3), [0, 0, 'already_in_pool']);
  assert.equal(second.body.doubleRelease, true);
  assert.equal(occurrences((await call<PoolSnapshot>(site, 'GET', '/api/pool')).body.available, allocation.executor), 1);
  assert.ok(site.logLines.some((line) => JSON.parse(line).msg === 'Double release detected'));
});

test("POST /api/release with the allocation's token: the fenced release; a late one is stale_release and changes nothing", async () => {
  await call(site, 'POST', '/api/pool/reset', { json: { size: 1 }, headers: PRESENTER });
  const a = (await call<AllocateReply>(site, 'POST', '/api/allocate', { json: { evalId: 'eval-a' } })).body;
  const first = await call<ReleaseReply>(site, 'POST', '/api/release', { json: { executor: a.executor, evalId: a.evalId, token: a.token } });
  assert.equal(first.status, 200);
  assert.deepEqual(first.body.reply, ['released']);
  const b = (await call<AllocateReply>(site, 'POST', '/api/allocate', { json: { evalId: 'eval-b' } })).body;
  assert.equal(b.executor, a.executor);
  const before = await redisState(site);
  const late = await call<ReleaseReply>(site, 'POST', '/api/release', { json: { executor: a.executor, evalId: a.evalId, token: a.token } });
  assert.equal(late.status, 200);
  assert.equal(late.body.status, 'stale_release');
  assert.deepEqual(late.body.reply, ['stale_release', b.token]);
  assert.deepEqual(await redisState(site), before, 'eval-b keeps its executor');
  assertApiError(await call(site, 'POST', '/api/allocate', { json: { evalId: 'eval-c' } }), 409, 'pool_empty');
});

test('POST /api/pool/reset: 403 without the presenter secret, and nothing reset', async () => {
  await call(site, 'POST', '/api/allocate', { json: { evalId: 'eval-1' } });
  const before = await redisState(site);
  const attempts: Record<string, string>[] = [{}, { authorization: 'Bearer wrong-secret-123' }, { authorization: PRESENTER_SECRET }, { authorization: `Basic ${PRESENTER_SECRET}` }];
  for (const headers of attempts) {
    assertApiError(await call(site, 'POST', '/api/pool/reset', { json: {}, headers }), 403, 'forbidden');
  }
  assert.deepEqual(await redisState(site), before);
});

test('POST /api/pool/reset with the presenter secret: 200 and the fresh pool', async () => {
  await call(site, 'POST', '/api/allocate', { json: { evalId: 'eval-1' } });
  const reset = await call<PoolSnapshot>(site, 'POST', '/api/pool/reset', { headers: PRESENTER });
  assert.equal(reset.status, 200);
  assert.equal(reset.body.available.length, 4);
  assert.deepEqual(reset.body.busy, {});

  const smaller = await call<PoolSnapshot>(site, 'POST', '/api/pool/reset', { json: { size: 2, pool: 'main' }, headers: PRESENTER });
  assert.equal(smaller.status, 200);
  assert.deepEqual(smaller.body.executors, ['executor-1', 'executor-2']);
  assert.deepEqual((await call<PoolSnapshot>(site, 'GET', '/api/pool')).body.executors, ['executor-1', 'executor-2']);
});

test('an unknown /api path: 404 {error, message}', async () => {
  assertApiError(await call(site, 'GET', '/api/nope'), 404, 'bad_request');
  assertApiError(await call(site, 'POST', '/api/pool', { json: {} }), 404, 'bad_request');
});

describe('bad input: 400/413 with {error, message}, Redis unchanged and not even asked', () => {
  const huge = 'x'.repeat(5_000);
  /**
   * Who refuses each case: the JSON parser, the request's schema (the answer is the
   * schema's own message), the server's list of pools, or Redis (the one case that
   * needs a look at the pool). Only a Redis case may send Redis a command.
   */
  type DecidedBy = 'parser' | 'pools' | 'redis' | z.ZodType;
  const cases: { name: string; by: DecidedBy; method?: string; path: string; json?: unknown; raw?: string; headers?: Record<string, string>; status?: number }[] = [
    // allocate
    { name: 'allocate: no body', by: AllocateRequest, path: '/api/allocate' },
    { name: 'allocate: missing evalId', by: AllocateRequest, path: '/api/allocate', json: {} },
    { name: 'allocate: evalId a number', by: AllocateRequest, path: '/api/allocate', json: { evalId: 42 } },
    { name: 'allocate: evalId null', by: AllocateRequest, path: '/api/allocate', json: { evalId: null } },
    { name: 'allocate: evalId empty', by: AllocateRequest, path: '/api/allocate', json: { evalId: '' } },
    { name: 'allocate: evalId too long', by: AllocateRequest, path: '/api/allocate', json: { evalId: 'e'.repeat(101) } },
    { name: 'allocate: evalId with bad characters', by: AllocateRequest, path: '/api/allocate', json: { evalId: 'eval 1<script>' } },
    { name: 'allocate: extra field', by: AllocateRequest, path: '/api/allocate', json: { evalId: 'eval-1', ttlSeconds: 1 } },
    { name: 'allocate: prototype pollution attempt', by: AllocateRequest, path: '/api/allocate', raw: '{"evalId":"eval-1","__proto__":{"admin":true}}' },
    { name: 'allocate: unknown pool', by: 'pools', path: '/api/allocate', json: { evalId: 'eval-1', pool: 'nope' } },
    { name: 'allocate: pool with bad characters', by: AllocateRequest, path: '/api/allocate', json: { evalId: 'eval-1', pool: 'MAIN' } },
    { name: 'allocate: pool a number', by: AllocateRequest, path: '/api/allocate', json: { evalId: 'eval-1', pool: 1 } },
    { name: 'allocate: invalid JSON', by: 'parser', path: '/api/allocate', raw: '{"evalId":' },
    { name: 'allocate: JSON array', by: AllocateRequest, path: '/api/allocate', raw: '["eval-1"]' },
    { name: 'allocate: JSON string', by: 'parser', path: '/api/allocate', raw: '"eval-1"' },
    { name: 'allocate: JSON number', by: 'parser', path: '/api/allocate', raw: '42' },
    { name: 'allocate: JSON null', by: 'parser', path: '/api/allocate', raw: 'null' },
    { name: 'allocate: body over 4 KB', by: 'parser', path: '/api/allocate', json: { evalId: huge }, status: 413 },
    // release
    { name: 'release: no body', by: ReleaseRequest, path: '/api/release' },
    { name: 'release: missing executor', by: ReleaseRequest, path: '/api/release', json: { pool: 'main' } },
    { name: 'release: executor a number', by: ReleaseRequest, path: '/api/release', json: { executor: 1 } },
    { name: 'release: executor an array', by: ReleaseRequest, path: '/api/release', json: { executor: ['executor-1'] } },
    { name: 'release: extra field', by: ReleaseRequest, path: '/api/release', json: { executor: 'executor-1', force: true } },
    { name: 'release: unknown executor', by: 'redis', path: '/api/release', json: { executor: 'executor-99' } },
    { name: 'release: executor with bad characters', by: ReleaseRequest, path: '/api/release', json: { executor: 'executor-1; DEL *' } },
    { name: 'release: executor with a newline', by: ReleaseRequest, path: '/api/release', json: { executor: 'executor-1\r\nFLUSHALL' } },
    { name: 'release: unknown pool', by: 'pools', path: '/api/release', json: { executor: 'executor-1', pool: 'nope' } },
    { name: 'release: pool with bad characters', by: ReleaseRequest, path: '/api/release', json: { executor: 'executor-1', pool: '../main' } },
    { name: 'release: invalid JSON', by: 'parser', path: '/api/release', raw: "{executor: 'executor-1'}" },
    { name: 'release: JSON array', by: ReleaseRequest, path: '/api/release', raw: '[{"executor":"executor-1"}]' },
    { name: 'release: JSON true', by: 'parser', path: '/api/release', raw: 'true' },
    { name: 'release: body over 4 KB', by: 'parser', path: '/api/release', json: { executor: 'executor-1', pad: huge }, status: 413 },
    { name: 'release: token 0', by: ReleaseRequest, path: '/api/release', json: { executor: 'executor-1', evalId: 'eval-1', token: 0 } },
    { name: 'release: token negative', by: ReleaseRequest, path: '/api/release', json: { executor: 'executor-1', evalId: 'eval-1', token: -1 } },
    { name: 'release: token a fraction', by: ReleaseRequest, path: '/api/release', json: { executor: 'executor-1', evalId: 'eval-1', token: 1.5 } },
    { name: 'release: token a string', by: ReleaseRequest, path: '/api/release', json: { executor: 'executor-1', evalId: 'eval-1', token: '1' } },
    { name: 'release: token null', by: ReleaseRequest, path: '/api/release', json: { executor: 'executor-1', evalId: 'eval-1', token: null } },
    { name: 'release: token beyond 2^53', by: ReleaseRequest, path: '/api/release', raw: '{"executor":"executor-1","evalId":"eval-1","token":9007199254740993}' },
    { name: 'release: token without evalId', by: ReleaseRequest, path: '/api/release', json: { executor: 'executor-1', token: 1 } },
    { name: 'release: evalId without token', by: ReleaseRequest, path: '/api/release', json: { executor: 'executor-1', evalId: 'eval-1' } },
    { name: 'release: evalId with an @', by: ReleaseRequest, path: '/api/release', json: { executor: 'executor-1', evalId: 'eval@1', token: 1 } },
    { name: 'release: token with an unknown executor', by: 'redis', path: '/api/release', json: { executor: 'executor-99', evalId: 'eval-1', token: 1 } },
    // pool read and reset
    { name: 'pool: unknown pool', by: 'pools', method: 'GET', path: '/api/pool?pool=nope' },
    { name: 'pool: pool with bad characters', by: WatchRequest, method: 'GET', path: '/api/pool?pool=Main%21' },
    { name: 'pool: pool given twice', by: WatchRequest, method: 'GET', path: '/api/pool?pool=main&pool=main' },
    { name: 'reset: size 0', by: ResetRequest, path: '/api/pool/reset', json: { size: 0 }, headers: PRESENTER },
    { name: 'reset: size 65', by: ResetRequest, path: '/api/pool/reset', json: { size: 65 }, headers: PRESENTER },
    { name: 'reset: size 2.5', by: ResetRequest, path: '/api/pool/reset', json: { size: 2.5 }, headers: PRESENTER },
    { name: 'reset: size a string', by: ResetRequest, path: '/api/pool/reset', json: { size: '4' }, headers: PRESENTER },
    { name: 'reset: unknown pool', by: 'pools', path: '/api/pool/reset', json: { pool: 'nope' }, headers: PRESENTER },
    { name: 'reset: extra field', by: ResetRequest, path: '/api/pool/reset', json: { size: 2, everything: true }, headers: PRESENTER },
    { name: 'reset: invalid JSON', by: 'parser', path: '/api/pool/reset', raw: '{', headers: PRESENTER },
  ];

  /** What the schema is given: the parsed body (an empty object when none), or for GET /api/pool the query. */
  function schemaInput(c: (typeof cases)[number]): unknown {
    if (c.method === 'GET') {
      const pools = new URL(c.path, 'http://site').searchParams.getAll('pool');
      return { pool: pools.length > 1 ? pools : pools[0] };
    }
    if (c.raw !== undefined) return JSON.parse(c.raw);
    return c.json ?? {};
  }

  beforeEach(async () => {
    // A pool with something to lose: executor-1 busy, executor-2 released once.
    await call(site, 'POST', '/api/allocate', { json: { evalId: 'eval-1' } });
    await call(site, 'POST', '/api/allocate', { json: { evalId: 'eval-2' } });
    await call(site, 'POST', '/api/release', { json: { executor: 'executor-2' } });
  });

  for (const c of cases) {
    test(c.name, async () => {
      const before = await redisState(site);
      assert.equal(before.pool.busy['executor-1'], 'eval-1');
      let reply: Reply<unknown> | undefined;
      const commands = await redisCommandsDuring(site.redis, async () => {
        reply = await call(site, c.method ?? 'POST', c.path, {
          ...(c.json === undefined ? {} : { json: c.json }),
          ...(c.raw === undefined ? {} : { raw: c.raw }),
          ...(c.headers ? { headers: c.headers } : {}),
        });
      });
      assertApiError(reply!, c.status ?? 400, 'bad_request');
      if (typeof c.by === 'object') {
        assert.equal((reply!.body as ApiError).message, schemaSays(c.by, schemaInput(c)), 'refused by the request schema, in its words');
      }
      if (c.by !== 'redis') assert.equal(commands.total, 0, `refused before any command reached Redis: ${JSON.stringify(commands.by)}`);
      assert.deepEqual(await redisState(site), before, 'Redis unchanged');
    });
  }
});

test('rate limit: a viewer over its burst gets 429 rate_limited, and the pool is unchanged', async () => {
  const limitedSite = await startSite({ VIEWER_ACTIONS_PER_SECOND: '1', VIEWER_ACTION_BURST: '3' });
  openAllPanels(limitedSite);
  try {
    for (let i = 1; i <= 3; i++) {
      assert.equal((await call(limitedSite, 'POST', '/api/allocate', { json: { evalId: `eval-${i}` } })).status, 200);
    }
    const before = await redisState(limitedSite);
    assertApiError(await call(limitedSite, 'POST', '/api/allocate', { json: { evalId: 'eval-4' } }), 429, 'rate_limited');
    assertApiError(await call(limitedSite, 'POST', '/api/release', { json: { executor: 'executor-1' } }), 429, 'rate_limited');
    assert.deepEqual(await redisState(limitedSite), before);
    // Reading and the presenter's reset are not viewer actions.
    assert.equal((await call(limitedSite, 'GET', '/api/pool')).status, 200);
    assert.equal((await call(limitedSite, 'POST', '/api/pool/reset', { headers: PRESENTER })).status, 200);
  } finally {
    await limitedSite.close();
  }
});

test('GET /healthz: 503 {"redis": "unavailable"} when Redis is gone, and actions 503 redis_unavailable', async () => {
  const redis = await startPrivateRedis();
  const downSite = await startSite({ REDIS_URL: redis.url });
  openAllPanels(downSite);
  try {
    assert.equal(downSite.redisUrl, redis.url);
    const up = await call<{ redis: string }>(downSite, 'GET', '/healthz');
    assert.equal(up.status, 200);
    assert.equal(up.body.redis, 'ok');

    await redis.stop();
    const down = await call<{ redis: string }>(downSite, 'GET', '/healthz');
    assert.equal(down.status, 503);
    assert.equal(down.body.redis, 'unavailable');
    assertApiError(await call(downSite, 'POST', '/api/allocate', { json: { evalId: 'eval-1' } }), 503, 'redis_unavailable');
    assertApiError(await call(downSite, 'GET', '/api/pool'), 503, 'redis_unavailable');
  } finally {
    await downSite.close();
    await redis.stop();
  }
});
