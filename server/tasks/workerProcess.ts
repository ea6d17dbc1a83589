/**
 * One worker process, forked and supervised by the eval runtime. It runs a
 * BullMQ Worker on every queue and reports, over IPC, everything BullMQ does
 * with the runtime's jobs: which job it picked up, what the processor did, what
 * BullMQ stored or refused to store, what its stall check found, and every
 * release its callbacks made, with Redis' reply.
 *
 * The callbacks follow Celery's two execution models:
 *  - `link` (success) is queued as a job of its own on the callbacks queue, from
 *    inside the processor, before the processor returns (so before BullMQ stores
 *    the result), and runs in whichever worker process picks it up;
 *  - `link_error` (failure) is called directly, in this process, from the
 *    worker's `failed` event.
 * Either one releases the eval's executor for real, with this process' own
 * connection to Redis.
 */
import { Queue, type Worker, type WorkerOptions } from 'bullmq';
import { Redis } from 'ioredis';
import { createLogger } from '../log.ts';
import { ExecutorPools } from '../pool/executorPool.ts';
import { loadScripts } from '../redis/scripts.ts';
import { bullConnection } from './connection.ts';
import { CALLBACK_QUEUE, EVAL_QUEUES, type EvalQueueName } from './queues.ts';
import type { EvalJobData, LinkJobData, ParentMessage, WorkerConfig } from './ipc.ts';
import { callbackRelease } from './worker/callbackRelease.ts';
import { evalProcessor } from './worker/evalProcessor.ts';
import { jobHooks } from './worker/jobHooks.ts';
import { CLEANUP_LANE, jobRef, reportEvent, send } from './worker/report.ts';
import { TrackedWorker } from './worker/trackedWorker.ts';

// When the runtime goes away (even by SIGKILL) the IPC channel closes: go with it.
process.on('disconnect', () => process.exit(0));
if (!process.connected) process.exit(0);

process.once('message', (message: ParentMessage) => {
  if (message.type !== 'start') return;
  start(message.config).catch((error: unknown) => {
    send({ type: 'log', line: JSON.stringify({ level: 'error', msg: 'worker process failed to start', error: String(error) }) });
    process.exit(1);
  });
});

/** Connects, runs a Worker on every queue with the reporting above, and answers `shutdown`. */
async function start(config: WorkerConfig): Promise<void> {
  const lane = config.lane;
  const log = createLogger({
    level: config.logLevel,
    fields: { lane, pid: process.pid },
    sink: (line) => send({ type: 'log', line }),
  });

  const redis = new Redis(config.redisUrl, { maxRetriesPerRequest: 2, lazyConnect: true });
  redis.on('error', (error) => log.warn('redis connection error', { error: error.message }));
  await redis.connect();
  const pools = new ExecutorPools(
    redis,
    loadScripts(redis),
    { busyTtlSeconds: config.busyTtlSeconds, doubleReleaseWindowMs: config.doubleReleaseWindowMs, defaultSize: 4 },
    log,
  );
  const release = callbackRelease(pools, process.pid);

  const connection = bullConnection(config.redisUrl);
  const callbacksQueue: Queue = new Queue(CALLBACK_QUEUE, { connection, prefix: config.bullPrefix });
  callbacksQueue.on('error', (error) => log.warn('callbacks queue error', { error: error.message }));

  /** Errors this process already reported with more context than the bare `error` event. */
  const reported = new WeakSet<Error>();
  const hooks = jobHooks(lane, reported);

  const baseOptions = {
    connection,
    prefix: config.bullPrefix,
    name: lane,
    concurrency: 1,
    lockDuration: config.lockDurationMs,
    stalledInterval: config.stalledIntervalMs,
    removeOnComplete: { count: 200 },
    removeOnFail: { count: 200 },
  } satisfies WorkerOptions;

  const workers: Worker[] = [];
  // The callbacks queue: runs `link` cleanup jobs.
  const callbacksWorker = new TrackedWorker<LinkJobData>(
    CALLBACK_QUEUE,
    async (job) => {
      const data = job.data;
      await release('link', CLEANUP_LANE, data, jobRef(CALLBACK_QUEUE, job));
      return { released: data.executor };
    },
    { ...baseOptions, maxStalledCount: 1 },
    hooks,
  );
  workers.push(callbacksWorker);

  /**
   * Closes this process' callbacks Worker, and makes sure Redis has dropped its
   * blocked BZPOPMIN: a client that closed its socket stays blocked in Redis until
   * Redis reads the EOF, and would swallow the wake-up marker of the next job,
   * leaving the surviving worker asleep until its block timeout.
   */
  const stopTakingCleanupJobs = async () => {
    await callbacksWorker.close(true);
    const blockingName = `${config.bullPrefix}:${Buffer.from(CALLBACK_QUEUE).toString('base64')}:w:${lane}`;
    const clients = String(await redis.client('LIST'));
    for (const line of clients.split('\n')) {
      const id = /(?:^| )id=(\d+)/.exec(line)?.[1];
      const name = /(?:^| )name=(\S*)/.exec(line)?.[1];
      if (id && name === blockingName) await redis.client('KILL', 'ID', id).catch(() => 0);
    }
  };

  for (const [queue, policy] of Object.entries(EVAL_QUEUES) as [EvalQueueName, (typeof EVAL_QUEUES)[EvalQueueName]][]) {
    const worker = new TrackedWorker<EvalJobData>(
      queue,
      evalProcessor(queue, { lane, config, callbacksQueue, stopTakingCleanupJobs }),
      { ...baseOptions, maxStalledCount: policy.maxStalledCount, skipStalledCheck: policy.skipStalledCheck },
      hooks,
    );
    worker.on('completed', (job) => {
      reportEvent(job.data.runId, jobRef(queue, job), { kind: 'job-completed', text: `${lane} stores eval job ${job.id}'s result: completed`, data: jobRef(queue, job) });
      send({ type: 'final', runId: job.data.runId, job: jobRef(queue, job), state: 'completed' });
    });
    worker.on('failed', (job, error) => {
      if (!job) return;
      const data = job.data;
      reportEvent(data.runId, jobRef(queue, job), {
        kind: 'job-failed',
        text: `${lane} moves eval job ${job.id} to failed: ${error.message}`,
        data: { ...jobRef(queue, job), reason: error.message },
      });
      send({ type: 'final', runId: data.runId, job: jobRef(queue, job), state: 'failed', reason: error.message });
      if (data.callbacks.linkError) {
        // link_error runs right here, in the worker process, as Celery's worker calls it.
        release('link_error', lane, data, jobRef(queue, job)).catch((releaseError: unknown) =>
          log.error('link_error failed', { error: String(releaseError), runId: data.runId }),
        );
      }
    });
    workers.push(worker);
  }

  for (const worker of workers) {
    const queue = (worker as TrackedWorker<unknown>).queueName;
    worker.on('stalled', (jobId) => {
      reportEvent(
        null,
        { queue, jobId },
        { kind: 'job-stalled', text: `${lane}'s stall check finds job ${jobId} active with no lock: lock expired, moved back to wait`, data: { queue, jobId } },
        { lane: queue === CALLBACK_QUEUE ? CLEANUP_LANE : lane },
      );
    });
    worker.on('lockRenewalFailed', (jobIds) => {
      for (const jobId of jobIds) {
        reportEvent(null, { queue, jobId }, {
          kind: 'lock-renewal-failed',
          text: `${lane} could not renew its lock on job ${jobId}: another worker's or nobody's now`,
          data: { queue, jobId },
        });
      }
    });
    worker.on('error', (error) => {
      if (reported.has(error) || /^could not renew lock for job/.test(error.message)) return;
      log.warn('worker error', { queue, error: error.message });
      reportEvent(null, null, { kind: 'worker-error', text: `${lane} (${queue}): ${error.message}`, data: { queue, message: error.message } });
    });
  }

  await Promise.all([...workers.map((w) => w.waitUntilReady()), callbacksQueue.waitUntilReady()]);

  let shuttingDown = false;
  process.on('message', (message: ParentMessage) => {
    if (message.type !== 'shutdown' || shuttingDown) return;
    shuttingDown = true;
    void (async () => {
      await Promise.allSettled(workers.map((w) => w.close(true)));
      await callbacksQueue.close().catch(() => {});
      await redis.quit().catch(() => redis.disconnect());
      process.exit(0);
    })();
  });

  send({ type: 'ready' });
}
