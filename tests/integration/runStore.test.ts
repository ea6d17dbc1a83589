/**
 * Run records in Redis (server/scenarios/runStore.ts), on a private Redis of this
 * file's own: what is stored is checked by the protocol's schema when read back
 * (a corrupt or wrong-typed entry is missing, logged, never a crash), the count
 * stays bounded without losing a scenario's latest, and while Redis is away reads
 * fail as `redis_unavailable` (over HTTP and sockets, at once) and writes wait
 * here until it is back.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { io, type Socket } from 'socket.io-client';
import type { Redis } from 'ioredis';
import type { Ack, RunRecord, ScenarioName } from '../../server/protocol.ts';
import { startPrivateRedis, type PrivateRedis } from '../../server/redis/privateRedis.ts';
import { INDEX_KEY, LATEST_KEY, RunStore, runKey } from '../../server/scenarios/runStore.ts';
import { RunRecorder } from '../../server/scenarios/runRecorder.ts';
import { ClientError } from '../../server/errors.ts';
import { createCapturingLogger } from '../../server/log.ts';
import { api, newViewerSession, startSite, type Site } from '../support/site.ts';
import { connectRedis, logged } from '../support/redis.ts';
import { withDeadline } from '../support/deadline.ts';

const DEADLINE_MS = 10_000;

let redis: PrivateRedis;
let client: Redis;

before(async () => {
  redis = await startPrivateRedis();
  client = await connectRedis(redis.url);
});

after(async () => {
  client?.disconnect();
  await redis?.stop();
});

let runs = 0;
function record(scenario: ScenarioName = 'late-duplicate', status: RunRecord['status'] = 'finished'): RunRecord {
  const recorder = new RunRecorder(`run-store-${String(++runs).padStart(3, '0')}-${Date.now().toString(36)}`, scenario, 'fenced', 'none', 'late-duplicate');
  recorder.add({ lane: 'server', kind: 'error', text: 'an event to keep', data: { message: 'kept' } });
  recorder.record.status = status;
  return recorder.record;
}

async function connect(site: Site): Promise<Socket> {
  const socket = io(site.url, { transports: ['websocket'], forceNew: true, reconnection: false, extraHeaders: { cookie: await newViewerSession(site) } });
  await withDeadline(new Promise((resolve, reject) => socket.once('connect', () => resolve(undefined)).once('connect_error', reject)), DEADLINE_MS, 'a socket to connect');
  return socket;
}

test('a corrupt or wrong-typed entry is missing: 404 by id, left out of the latest runs, logged; the server keeps answering', async () => {
  const { logger } = createCapturingLogger();
  const store = new RunStore(client, { keepRuns: 200, instance: 'test' }, logger);
  const sound = record('attempt-1');
  await store.save(sound);
  const corrupt = { json: 'run-corrupt-json', schema: 'run-corrupt-schema', other: 'run-corrupt-other-id', type: 'run-corrupt-type' };
  await client.set(runKey(corrupt.json), '{"formatVersion":2,');
  await client.set(runKey(corrupt.schema), JSON.stringify({ ...sound, id: corrupt.schema, status: 'exploded' }));
  await client.set(runKey(corrupt.other), JSON.stringify(sound)); // a valid record under another run's key
  await client.hset(runKey(corrupt.type), 'not', 'a string');
  await client.hset(LATEST_KEY, { 'attempt-2': corrupt.json, 'attempt-3': corrupt.schema, 'edge-case-test': corrupt.other, 'innocent-pattern': corrupt.type });

  const site = await startSite({ REDIS_URL: redis.url });
  try {
    for (const id of Object.values(corrupt)) {
      const reply = await api<{ error: string }>(site, 'GET', `/api/runs/${id}`);
      assert.deepEqual([reply.status, reply.body.error], [404, 'not_found'], id);
    }
    const socket = await connect(site);
    const latest = (await socket.timeout(DEADLINE_MS).emitWithAck('runs:watch', {})) as Ack<RunRecord[]>;
    socket.disconnect();
    assert.ok(latest.ok, JSON.stringify(latest));
    assert.deepEqual(latest.data.map((run) => run.id), [sound.id], 'only the sound record');
    assert.equal(logged(site.logLines, 'a stored run record is corrupt: treated as missing').length, 3 + 3, 'each corrupt value, by id and in the latest');
    assert.equal(logged(site.logLines, 'a stored run key is not what it should be: treated as missing').length, 1);
    assert.equal((await api(site, 'GET', '/healthz')).status, 200);
  } finally {
    await site.close();
    store.destroy();
    await client.del(LATEST_KEY, INDEX_KEY, ...Object.values(corrupt).map(runKey));
  }
});

test('the count is bounded: the oldest records go, never a scenario\'s latest', async () => {
  const { logger } = createCapturingLogger();
  const store = new RunStore(client, { keepRuns: 3, instance: 'test' }, logger);
  try {
    const kept = record('attempt-1'); // the oldest, and attempt-1's latest throughout
    await store.save(kept);
    const others = [];
    for (let i = 0; i < 4; i++) {
      others.push(record('attempt-2'));
      await store.save(others.at(-1)!);
    }
    const stored = await client.zrange(INDEX_KEY, 0, -1);
    assert.deepEqual(stored, [kept.id, ...others.slice(-2).map((r) => r.id)], 'three kept: the latest of each scenario and the newest');
    for (const gone of others.slice(0, 2)) assert.equal(await store.get(gone.id), undefined, `${gone.id} dropped`);
    assert.deepEqual((await store.latest()).map((r) => r.id).sort(), [kept.id, others.at(-1)!.id].sort());
  } finally {
    store.destroy();
    await client.del(LATEST_KEY, INDEX_KEY);
  }
});

test('a hall joining at once shares the reads of the latest runs, each read begun after its callers asked', async () => {
  const { logger } = createCapturingLogger();
  const store = new RunStore(client, { keepRuns: 200, instance: 'test' }, logger);
  try {
    const first = record('attempt-1');
    await store.save(first);
    const reads = async () => Number(/cmdstat_hgetall:calls=(\d+)/.exec(await client.info('commandstats'))?.[1] ?? 0);
    const before = await reads();
    const early = Array.from({ length: 200 }, () => store.latest());
    // A run stored after those callers asked: the next caller must see it.
    const second = record('attempt-2');
    await store.save(second);
    const late = await store.latest();
    const answers = await Promise.all(early);
    const made = (await reads()) - before;
    assert.ok(made <= 2, `one read for the 200 joiners and one for the late caller, not ${made}`);
    for (const answer of answers) assert.ok(answer.some((run) => run.id === first.id));
    assert.deepEqual(late.map((run) => run.id).sort(), [first.id, second.id].sort(), 'the caller after the save sees it');
  } finally {
    store.destroy();
    await client.del(LATEST_KEY, INDEX_KEY);
  }
});

test('Redis away: reads are redis_unavailable at once (HTTP, sockets, the store), nothing crashes; a record changed meanwhile is written when it is back', async () => {
  const own = await startPrivateRedis();
  const site = await startSite({ REDIS_URL: own.url });
  const connection = await connectRedis(own.url);
  const { logger } = createCapturingLogger();
  const store = new RunStore(connection, { keepRuns: 200, instance: 'test' }, logger);
  let restarted: PrivateRedis | null = null;
  try {
    const before = record('attempt-3', 'running');
    await store.save(before);
    const socket = await connect(site);

    const closed = once(connection, 'close');
    await own.stop();
    await withDeadline(closed, DEADLINE_MS, 'the store\'s connection to see Redis gone');
    const t0 = Date.now();
    const reply = await api<{ error: string }>(site, 'GET', `/api/runs/${before.id}`);
    assert.deepEqual([reply.status, reply.body.error], [503, 'redis_unavailable']);
    const watched = (await socket.timeout(DEADLINE_MS).emitWithAck('runs:watch', {})) as Ack<RunRecord[]>;
    assert.equal(!watched.ok && watched.error, 'redis_unavailable');
    await assert.rejects(store.get(before.id), (error) => error instanceof ClientError && error.code === 'redis_unavailable');
    assert.ok(Date.now() - t0 < 1000, `answered at once, not after a timeout: ${Date.now() - t0} ms`);
    socket.disconnect();

    // The run ends while Redis is away: not waited for, written once Redis answers again.
    before.status = 'failed';
    before.error = 'Redis became unavailable during the run';
    await withDeadline(store.save(before), 1000, 'a save while Redis is away to return');
    restarted = await startPrivateRedis({ port: own.port, password: own.password });
    if (connection.status !== 'ready') await withDeadline(once(connection, 'ready'), 15_000, 'the store\'s connection to be back');
    await store.settled();
    assert.equal((await store.get(before.id))?.status, 'failed', 'the record as it ended, written when Redis came back');
    if (site.redis.status !== 'ready') await withDeadline(once(site.redis, 'ready'), 15_000, 'the site\'s connection to be back');
    const fetched = await api<RunRecord>(site, 'GET', `/api/runs/${before.id}`);
    assert.deepEqual([fetched.status, fetched.body.status], [200, 'failed'], 'and the site serves it');
  } finally {
    store.destroy();
    connection.disconnect();
    await site.close();
    await (restarted ?? own).stop();
  }
});
