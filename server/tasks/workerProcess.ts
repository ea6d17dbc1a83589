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
import { randomUUID } from 'node:crypto';
import { Queue, Worker, type Job, type Processor, type WorkerOptions } from 'bullmq';
import { Redis } from 'ioredis';
import { createLogger } from '../log.ts';
import { ExecutorPools } from '../pool/executorPool.ts';
import { loadScripts } from '../redis/scripts.ts';
import type { ReleaseKind, ReleaseReply } from '../protocol.ts';
import { bullConnection } from './connection.ts';
import { BULL_PREFIX, CALLBACK_QUEUE, EVAL_QUEUES, type EvalQueueName, type QueueName } from './queues.ts';
import type { ChildMessage, EvalJobData, JobRef, LinkJobData, ParentMessage, WorkerConfig } from './ipc.ts';
import type { TimelineEntry } from './types.ts';

const CLEANUP_LANE = 'cleanup-job';
/** BullMQ's words when a worker finishes a job whose lock it no longer holds. */
const LOCK_ERROR = /^(Missing lock|Lock mismatch) for job /;

function send(message: ChildMessage): void {
  if (process.connected) process.send?.(message);
}

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

interface TrackHooks {
  started(queue: QueueName, job: Job): void;
  ended(queue: QueueName, job: Job): void;
  completeFailed(queue: QueueName, job: Job, error: Error, result: unknown): void;
  failFailed(queue: QueueName, job: Job, error: Error, cause: Error): void;
}

/**
 * A BullMQ Worker that says when BullMQ's whole handling of a job starts and
 * ends (processJob: fetch to moveToCompleted/moveToFailed), and when storing the
 * outcome throws, which the stock events only report as a bare `error`.
 */
class TrackedWorker<D> extends Worker<D> {
  constructor(
    readonly queueName: QueueName,
    processor: Processor<D>,
    options: WorkerOptions,
    private readonly hooks: TrackHooks,
  ) {
    super(queueName, processor, options);
  }

  override async processJob(job: Job<D>, token: string, fetchNextCallback?: () => boolean) {
    this.hooks.started(this.queueName, job);
    try {
      return await super.processJob(job, token, fetchNextCallback);
    } finally {
      this.hooks.ended(this.queueName, job);
    }
  }

  protected override async handleCompleted(
    result: unknown,
    job: Job<D>,
    token: string,
    ...rest: unknown[]
  ): Promise<Job<D>> {
    try {
      return await (super.handleCompleted as (...args: unknown[]) => Promise<Job<D>>).call(this, result, job, token, ...rest);
    } catch (error) {
      this.hooks.completeFailed(this.queueName, job, error as Error, result);
      throw error;
    }
  }

  protected override async handleFailed(err: Error, job: Job<D>, token: string, ...rest: unknown[]): Promise<Job<D>> {
    try {
      return await (super.handleFailed as (...args: unknown[]) => Promise<Job<D>>).call(this, err, job, token, ...rest);
    } catch (error) {
      this.hooks.failFailed(this.queueName, job, error as Error, err);
      throw error;
    }
  }
}

/** Burns CPU without yielding: nothing else in this process runs, lock renewal included. */
function blockEventLoop(ms: number): number {
  const start = Date.now();
  while (Date.now() - start < ms) {
    // busy
  }
  return Date.now() - start;
}

function hang(): Promise<never> {
  return new Promise<never>(() => {});
}

async function start(config: WorkerConfig): Promise<void> {
  const lane = config.lane;
  const pid = process.pid;
  const log = createLogger({
    level: config.logLevel,
    fields: { lane, pid },
    sink: (line) => send({ type: 'log', line }),
  });

  const event = (runId: string | null, job: JobRef | null, entry: TimelineEntry, extra: { lane?: string; pid?: number | null; at?: number } = {}) => {
    send({
      type: 'event',
      runId,
      job,
      entry,
      at: extra.at ?? Date.now(),
      ...(extra.lane ? { lane: extra.lane } : {}),
      ...(extra.pid !== undefined ? { pid: extra.pid } : {}),
    });
  };

  const redis = new Redis(config.redisUrl, { maxRetriesPerRequest: 2, lazyConnect: true });
  redis.on('error', (error) => log.warn('redis connection error', { error: error.message }));
  await redis.connect();
  const pools = new ExecutorPools(
    redis,
    loadScripts(redis),
    { busyTtlSeconds: config.busyTtlSeconds, doubleReleaseWindowMs: config.doubleReleaseWindowMs, defaultSize: 4 },
    log,
  );

  const connection = bullConnection(config.redisUrl);
  const callbacksQueue: Queue = new Queue(CALLBACK_QUEUE, { connection, prefix: BULL_PREFIX });
  callbacksQueue.on('error', (error) => log.warn('callbacks queue error', { error: error.message }));

  /** Errors this process already reported with more context than the bare `error` event. */
  const reported = new WeakSet<Error>();
  const ref = (queue: QueueName, job: Job): JobRef => ({ queue, jobId: String(job.id) });

  const release = async (
    callback: 'link' | 'link_error',
    callbackLane: string,
    data: { runId: string; pool: string; executor: string; release: ReleaseKind },
    job: JobRef,
  ): Promise<ReleaseReply> => {
    const callId = randomUUID();
    send({ type: 'callback', phase: 'start', runId: data.runId, callId });
    const how = data.release === 'lua' ? 'the idempotent Lua release' : 'the naive release (DEL + LPUSH)';
    event(
      data.runId,
      job,
      {
        kind: 'callback-started',
        text: `${callback} releases ${data.executor} to pool ${data.pool} with ${how}`,
        data: { ...job, callback, pool: data.pool, executor: data.executor, release: data.release },
      },
      { lane: callbackLane },
    );
    let reply: ReleaseReply | null = null;
    let at = Date.now();
    try {
      // The fenced release needs the allocation's token, which the task runtime does not carry:
      // the scenarios that run here accept only these two (see Scenario.releases).
      if (data.release === 'fenced') throw new Error('the task runtime has no token for the fenced release');
      const answer = data.release === 'lua' ? await pools.release(data.pool, data.executor) : await pools.releaseNaive(data.pool, data.executor);
      at = Date.now();
      reply = answer;
      const verdict =
        answer.status === 'released'
          ? `${data.executor} is back in the pool`
          : answer.status === 'already_in_pool'
            ? 'it was already in the pool: nothing added'
            : 'it was not busy: nothing added';
      const raw = answer.reply.map((part) => JSON.stringify(part)).join(', ');
      event(
        data.runId,
        job,
        {
          kind: 'release-reply',
          text: `${callback}'s release: ${answer.status} [${raw}], ${verdict}`,
          // The reply, and which callback in which process asked for it.
          data: { ...answer, ...job, callback, callbackLane, callbackPid: pid, release: data.release },
        },
        {
          lane: 'redis',
          pid: null,
          // The Lua release reports Redis' own clock; the naive one only what the commands return.
          at: data.release === 'lua' && typeof answer.reply[3] === 'number' ? answer.reply[3] : at,
        },
      );
      return answer;
    } catch (error) {
      at = Date.now();
      event(
        data.runId,
        job,
        {
          kind: 'callback-error',
          text: `${callback} could not release ${data.executor}: ${(error as Error).message}`,
          data: { ...job, callback, executor: data.executor, message: (error as Error).message },
        },
        { lane: callbackLane },
      );
      throw error;
    } finally {
      send({ type: 'callback', phase: 'end', runId: data.runId, callId, callback, lane: callbackLane, reply, at });
    }
  };

  const hooks: TrackHooks = {
    started(queue, job) {
      const data = job.data as Partial<EvalJobData>;
      const runId = data.runId ?? null;
      send({ type: 'processing', phase: 'start', runId, job: ref(queue, job) });
      if (queue === CALLBACK_QUEUE) {
        const link = job.data as LinkJobData;
        event(
          runId,
          ref(queue, job),
          {
            kind: 'picked-up',
            text: `${lane} picks up cleanup job ${job.id} (the link of eval job ${link.evalJobId})`,
            data: { ...ref(queue, job), job: 'cleanup', worker: lane, attemptsStarted: job.attemptsStarted, stalledCounter: job.stalledCounter ?? null, deferredFailure: job.deferredFailure ?? null },
          },
          { lane: CLEANUP_LANE },
        );
        return;
      }
      const attempt = job.attemptsStarted;
      const why = job.deferredFailure
        ? `, already marked to fail: "${job.deferredFailure}"`
        : attempt > 1
          ? `, start #${attempt}: it ran before and was never finished`
          : '';
      event(runId, ref(queue, job), {
        kind: 'picked-up',
        text: `${lane} picks up eval job ${job.id} from ${queue}${why}`,
        data: {
          ...ref(queue, job),
          job: 'eval',
          worker: lane,
          attemptsStarted: attempt,
          stalledCounter: job.stalledCounter ?? null,
          deferredFailure: job.deferredFailure ?? null,
        },
      });
    },
    ended(queue, job) {
      const runId = (job.data as Partial<EvalJobData>).runId ?? null;
      send({ type: 'processing', phase: 'end', runId, job: ref(queue, job) });
    },
    completeFailed(queue, job, error, result) {
      reported.add(error);
      const runId = (job.data as Partial<EvalJobData>).runId ?? null;
      const lockLost = LOCK_ERROR.test(error.message);
      // BullMQ serializes the result before it talks to Redis: does the result serialize at all?
      let unserializable = false;
      try {
        JSON.stringify(result);
      } catch {
        unserializable = true;
      }
      event(
        runId,
        ref(queue, job),
        {
          kind: 'store-failed',
          text: lockLost
            ? `moveToCompleted refused: ${error.message} (${lane} no longer holds the job's lock)`
            : unserializable
              ? `moveToCompleted threw before reaching Redis, serializing the result: ${error.message}`
              : `moveToCompleted threw: ${error.message}`,
          data: { ...ref(queue, job), message: error.message, lockLost, unserializable },
        },
        { lane: queue === CALLBACK_QUEUE ? CLEANUP_LANE : lane },
      );
    },
    failFailed(queue, job, error, cause) {
      reported.add(error);
      const runId = (job.data as Partial<EvalJobData>).runId ?? null;
      event(
        runId,
        ref(queue, job),
        {
          kind: 'fail-store-failed',
          text: `moveToFailed refused too: ${error.message}`,
          data: { ...ref(queue, job), message: error.message, cause: cause.message, lockLost: LOCK_ERROR.test(error.message) },
        },
        { lane: queue === CALLBACK_QUEUE ? CLEANUP_LANE : lane },
      );
    },
  };

  const baseOptions = {
    connection,
    prefix: BULL_PREFIX,
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
      await release('link', CLEANUP_LANE, data, ref(CALLBACK_QUEUE, job));
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
    const blockingName = `${BULL_PREFIX}:${Buffer.from(CALLBACK_QUEUE).toString('base64')}:w:${lane}`;
    const clients = String(await redis.client('LIST'));
    for (const line of clients.split('\n')) {
      const id = /(?:^| )id=(\d+)/.exec(line)?.[1];
      const name = /(?:^| )name=(\S*)/.exec(line)?.[1];
      if (id && name === blockingName) await redis.client('KILL', 'ID', id).catch(() => 0);
    }
  };

  const evalProcessor = (queue: EvalQueueName): Processor<EvalJobData> => async (job) => {
    const data = job.data;
    const jobRef = ref(queue, job);
    // A fault strikes the first start only; a job BullMQ hands out again runs healthily.
    const first = job.attemptsStarted <= 1;
    const fault = first ? data.fault : 'none';

    if (fault === 'worker-killed-silent') {
      event(data.runId, jobRef, {
        kind: 'kill-requested',
        text: `${lane} is about to crash mid-eval, before dispatching any callback`,
        data: { ...jobRef, phase: 'before-any-callback' },
      });
      send({ type: 'kill-me', runId: data.runId, job: jobRef, phase: 'before-any-callback' });
      return hang();
    }
    if (fault === 'task-fails') {
      const error = new Error(`eval ${data.evalId} failed: the executor exited with status 1`);
      event(data.runId, jobRef, { kind: 'task-raised', text: `the eval raises: ${error.message}`, data: { ...jobRef, message: error.message } });
      throw error;
    }
    if (fault === 'lock-lost' || fault === 'lock-lost-fail') {
      event(data.runId, jobRef, {
        kind: 'event-loop-blocked',
        text: `${lane} runs a CPU-bound eval that never yields for ${config.blockMs} ms: its ${config.lockDurationMs} ms lock cannot be renewed meanwhile`,
        data: { ...jobRef, blockMs: config.blockMs, lockDurationMs: config.lockDurationMs },
      });
      blockEventLoop(config.blockMs);
    }
    event(data.runId, jobRef, { kind: 'task-ran', text: `the eval of ${data.evalId} ran on ${data.executor}`, data: { ...jobRef, evalId: data.evalId, executor: data.executor } });

    const crashing = fault === 'worker-killed' || fault === 'worker-killed-fail';
    if (crashing && data.callbacks.link) {
      // The cleanup job must run on a worker that survives: otherwise this very
      // process might take it a millisecond before it is killed.
      await stopTakingCleanupJobs();
      event(data.runId, jobRef, { kind: 'cleanup-paused', text: `${lane} stops taking cleanup jobs: it is about to be killed`, data: { ...jobRef } });
    }

    let dispatchedLink = false;
    if (data.callbacks.link) {
      // Celery sends the callbacks from inside the task, before it stores the result.
      const linkData: LinkJobData = {
        runId: data.runId,
        evalId: data.evalId,
        evalJobId: String(job.id),
        pool: data.pool,
        executor: data.executor,
        release: data.release,
      };
      const linkJob = await callbacksQueue.add('link', linkData, { attempts: 1 });
      dispatchedLink = true;
      send({ type: 'link-dispatched', runId: data.runId, linkJobId: String(linkJob.id) });
      event(data.runId, jobRef, {
        kind: 'link-dispatched',
        text: `${lane} queues link as cleanup job ${linkJob.id} on ${CALLBACK_QUEUE}, before the result is stored`,
        data: { ...jobRef, linkQueue: CALLBACK_QUEUE, linkJobId: String(linkJob.id) },
      });
    }

    if (crashing) {
      const phase = dispatchedLink ? 'after-link-dispatched' : 'before-result-stored';
      event(data.runId, jobRef, {
        kind: 'kill-requested',
        text: `${lane} is about to crash: ${dispatchedLink ? 'link is out' : 'no link attached'}, the job is not yet marked done`,
        data: { ...jobRef, phase },
      });
      send({ type: 'kill-me', runId: data.runId, job: jobRef, phase });
      return hang();
    }
    const result = { evalId: data.evalId, executor: data.executor, score: 0.87 };
    if (fault === 'result-unstorable') {
      return {
        ...result,
        toJSON(): never {
          throw new Error(`eval result cannot be serialized: it holds a live handle to ${data.executor}`);
        },
      };
    }
    return result;
  };

  for (const [queue, policy] of Object.entries(EVAL_QUEUES) as [EvalQueueName, (typeof EVAL_QUEUES)[EvalQueueName]][]) {
    const worker = new TrackedWorker<EvalJobData>(
      queue,
      evalProcessor(queue),
      { ...baseOptions, maxStalledCount: policy.maxStalledCount, skipStalledCheck: policy.skipStalledCheck },
      hooks,
    );
    worker.on('completed', (job) => {
      event(job.data.runId, ref(queue, job), { kind: 'job-completed', text: `${lane} stores eval job ${job.id}'s result: completed`, data: ref(queue, job) });
      send({ type: 'final', runId: job.data.runId, job: ref(queue, job), state: 'completed' });
    });
    worker.on('failed', (job, error) => {
      if (!job) return;
      const data = job.data;
      event(data.runId, ref(queue, job), {
        kind: 'job-failed',
        text: `${lane} moves eval job ${job.id} to failed: ${error.message}`,
        data: { ...ref(queue, job), reason: error.message },
      });
      send({ type: 'final', runId: data.runId, job: ref(queue, job), state: 'failed', reason: error.message });
      if (data.callbacks.linkError) {
        // link_error runs right here, in the worker process, as Celery's worker calls it.
        release('link_error', lane, data, ref(queue, job)).catch((releaseError: unknown) =>
          log.error('link_error failed', { error: String(releaseError), runId: data.runId }),
        );
      }
    });
    workers.push(worker);
  }

  for (const worker of workers) {
    const queue = (worker as TrackedWorker<unknown>).queueName;
    worker.on('stalled', (jobId) => {
      event(
        null,
        { queue, jobId },
        { kind: 'job-stalled', text: `${lane}'s stall check finds job ${jobId} active with no lock: lock expired, moved back to wait`, data: { queue, jobId } },
        { lane: queue === CALLBACK_QUEUE ? CLEANUP_LANE : lane },
      );
    });
    worker.on('lockRenewalFailed', (jobIds) => {
      for (const jobId of jobIds) {
        event(null, { queue, jobId }, {
          kind: 'lock-renewal-failed',
          text: `${lane} could not renew its lock on job ${jobId}: another worker's or nobody's now`,
          data: { queue, jobId },
        });
      }
    });
    worker.on('error', (error) => {
      if (reported.has(error) || /^could not renew lock for job/.test(error.message)) return;
      log.warn('worker error', { queue, error: error.message });
      event(null, null, { kind: 'worker-error', text: `${lane} (${queue}): ${error.message}`, data: { queue, message: error.message } });
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
