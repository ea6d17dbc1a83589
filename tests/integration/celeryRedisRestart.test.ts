/**
 * The private redis-server dies under a site whose Celery workers are up: the
 * keeper starts a new one on the same port with a new password, and the Celery
 * runtime starts its workers and driver again on the new url, as the BullMQ
 * runtime does. A Celery run afterwards completes, its callbacks counted from
 * Redis (the new one, with the new password).
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { Redis } from 'ioredis';
import type { RunRecord } from '../../server/protocol.ts';
import { celeryBrokerUrl } from '../../server/tasks/celery/python.ts';
import { runScenario } from '../support/scenarioRun.ts';
import { pollUntil } from '../support/redis.ts';
import { startSite, type Site } from '../support/site.ts';

/** A Celery run's own deadline is 30 s; the first one starts Python and the workers. */
const RUN_DEADLINE_MS = 90_000;
/** The keeper restarts Redis within seconds; the pools are rebuilt after. */
const RECOVERY_DEADLINE_MS = 45_000;

let site: Site;

before(async () => {
  site = await startSite({ TASK_WORKERS: '0', VIEWER_ACTION_BURST: '100' });
});

after(async () => {
  await site?.close();
});

/** The eval's Celery task id, and how many times each callback ran by the count the callbacks keep in Redis. */
async function countedCalls(record: RunRecord): Promise<{ link: number; linkError: number }> {
  const enqueued = record.events.find((e) => e.kind === 'enqueued');
  assert.ok(enqueued?.kind === 'enqueued', 'the run says which Celery task it sent');
  const celeryDb = new Redis(celeryBrokerUrl(site.redisUrl), { maxRetriesPerRequest: 2 });
  try {
    const counted = await celeryDb.hgetall(`idem-celery:calls:${enqueued.data.jobId}`);
    return { link: Number(counted.link ?? 0), linkError: Number(counted.link_error ?? 0) };
  } finally {
    celeryDb.disconnect();
  }
}

const workerPids = (record: RunRecord) => new Set(record.events.flatMap((e) => (e.kind === 'task-ran' && e.pid !== null ? [e.pid] : [])));

test('SIGKILL to the private Redis: the Celery workers and driver follow the new password, and the next run completes', { timeout: 3 * RUN_DEADLINE_MS }, async () => {
  const before = await runScenario(site, 'innocent-pattern', { runtime: 'celery', fault: 'none' }, RUN_DEADLINE_MS);
  assert.deepEqual(await countedCalls(before), { link: 1, linkError: 0 }, before.mechanism ?? '');
  const passwordBefore = new URL(site.redisUrl).password;
  const pid = Number(/process_id:(\d+)/.exec(await site.redis.info('server'))?.[1]);
  assert.ok(pid > 0);

  process.kill(pid, 'SIGKILL');
  await pollUntil(async () => new URL(site.redisUrl).password !== passwordBefore, RECOVERY_DEADLINE_MS, 'the keeper to start a new redis-server');
  // The outage watcher rebuilds the pools, then tells the runtimes (the Celery restart is queued before this line).
  await pollUntil(async () => site.logLines.some((line) => line.includes('Redis is back')), RECOVERY_DEADLINE_MS, 'the site to recover from the outage');

  const afterRestart = await runScenario(site, 'innocent-pattern', { runtime: 'celery', fault: 'none' }, RUN_DEADLINE_MS);
  const outcomes = afterRestart.events.flatMap((e) => (e.kind === 'run-finished' ? [e.data.outcome] : []));
  assert.deepEqual(outcomes, ['completed'], afterRestart.mechanism ?? '');
  assert.deepEqual(await countedCalls(afterRestart), { link: 1, linkError: 0 }, 'counted in the new Redis');
  const replies = afterRestart.events.flatMap((e) => (e.kind === 'release-reply' ? [`${e.data.callback}:${e.data.status}`] : []));
  assert.deepEqual(replies, ['link:released']);
  const stale = [...workerPids(afterRestart)].filter((p) => workerPids(before).has(p));
  assert.deepEqual(stale, [], 'the eval ran on workers started after the restart');
  assert.ok(site.logLines.some((line) => line.includes('restarting the celery workers and driver')));
});
