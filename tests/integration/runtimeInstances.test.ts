/**
 * Two servers' task runtimes on one Redis: starting the second leaves the first
 * one's queued jobs alone (each server has queues of its own), and a runtime that
 * closes removes its own queues only.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { Queue } from 'bullmq';
import { createCapturingLogger } from '../../server/log.ts';
import { startPrivateRedis, type PrivateRedis } from '../../server/redis/privateRedis.ts';
import { bullConnection } from '../../server/tasks/connection.ts';
import { startEvalRuntime, type EvalRuntime } from '../../server/tasks/evalRuntime.ts';

let redisServer: PrivateRedis;
const runtimes: EvalRuntime[] = [];
const queues: Queue[] = [];
const { logger } = createCapturingLogger('warn');

const start = async () => {
  const runtime = await startEvalRuntime({ redisUrl: redisServer.url, log: logger, workers: 1, startTimeoutMs: 60_000 });
  runtimes.push(runtime);
  return runtime;
};

before(async () => {
  redisServer = await startPrivateRedis();
});

after(async () => {
  for (const queue of queues) await queue.close();
  for (const runtime of runtimes) await runtime.close();
  await redisServer?.stop();
});

test("a second server's runtime starts without wiping the first one's jobs; closing removes only its own", async () => {
  const first = await start();
  // A job of the first server's, due later: still waiting when the second server starts.
  const firstEvals = new Queue('evals', { connection: bullConnection(redisServer.url), prefix: first.queuePrefix });
  queues.push(firstEvals);
  const job = await firstEvals.add('eval', { later: true }, { jobId: 'eval-of-the-first-server', delay: 60_000 });

  const second = await start();
  assert.notEqual(second.queuePrefix, first.queuePrefix, 'each server has queues of its own');
  assert.equal(await (await firstEvals.getJob(job.id!))?.getState(), 'delayed', "the first server's job is still there");

  await second.close();
  assert.equal(await (await firstEvals.getJob(job.id!))?.getState(), 'delayed', "closing the second server leaves the first one's job");
  await first.close();
  assert.equal(await firstEvals.getJob(job.id!), undefined, "the first server's queues went with it");
});
