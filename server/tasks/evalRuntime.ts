/**
 * The task runtime of the talk: evals run as BullMQ jobs on supervised worker
 * processes, with Celery's two callbacks on top, and faults that make BullMQ
 * itself run both callbacks of one task (or none).
 *
 *   const runtime = await startEvalRuntime({ redisUrl, log });
 *   const result = await runtime.run({ runId, evalId, pool, executor, release: 'lua',
 *     callbacks: { link: true, linkError: true }, fault: 'worker-killed', onEvent });
 *
 * One run = one eval whose executor the caller has already allocated. The run
 * ends when the eval job reached a final state, no worker is still handling it,
 * no cleanup job of it is pending, and every worker process is up again (or when
 * the job is lost by design, or at the run's deadline). Runs are serialized:
 * one at a time, in request order, because faults kill the very workers a
 * concurrent run would use.
 */
import { randomBytes } from 'node:crypto';
import { Queue } from 'bullmq';
import type { Logger, LogFields, LogLevel } from '../log.ts';
import { bullConnection } from './connection.ts';
import { describeMechanism } from './mechanism.ts';
import { ALL_QUEUES, CALLBACK_QUEUE, instancePrefix, EVAL_QUEUES, queueForFault, type EvalQueueName, type QueueName } from './queues.ts';
import { RunTimeline } from './runTimeline.ts';
import { Supervisor } from './supervisor.ts';
import type { ChildMessage, EvalJobData, JobRef } from './ipc.ts';
import {
  FAULT_NAMES,
  type CallbackRun,
  type EvalRunOutcome,
  type EvalRunRequest,
  type EvalRunResult,
  type WorkerInfo,
} from './types.ts';
import type { KillPhase } from '../protocol.ts';

export type {
  CallbackRun,
  EvalRunOutcome,
  EvalRunRequest,
  EvalRunResult,
  FaultName,
  Lane,
  TimelineEvent,
  TimelineKind,
  WorkerInfo,
} from './types.ts';
export { FAULT_NAMES } from './types.ts';

export interface EvalRuntime {
  /** Runs one eval (queued behind any run in progress) and resolves when it is over. Never rejects for a fault; rejects when the eval cannot even be queued. */
  run(request: EvalRunRequest): Promise<EvalRunResult>;
  /** The worker lanes and their current processes. */
  workers(): WorkerInfo[];
  /** The BullMQ prefix of this server's own queues. */
  readonly queuePrefix: string;
  /** Ends the run in progress (as `timed-out`), stops every worker process, removes this server's queues. */
  close(): Promise<void>;
}

export interface EvalRuntimeOptions {
  redisUrl: string;
  log: Logger;
  /** Worker processes (default 2). The worker-killed faults need at least 2. */
  workers?: number;
  /** BullMQ lockDuration of every worker (default 1000 ms; BullMQ's own default is 30 s). */
  lockDurationMs?: number;
  /** BullMQ stalledInterval of every worker (default 500 ms). */
  stalledIntervalMs?: number;
  /** Hard deadline of one run (default 20 s): it then ends as `timed-out`. */
  runTimeoutMs?: number;
  /** How long a `lock-lost` processor blocks its event loop (default lockDuration + 3 × stalledInterval). */
  blockMs?: number;
  /** Passed to the workers' ExecutorPools: two releases closer than this are flagged `doubleRelease` (default 1000). */
  doubleReleaseWindowMs?: number;
  /** Passed to the workers' ExecutorPools (unused by releases; default 600). */
  busyTtlSeconds?: number;
  /** How long the worker processes may take to start (default 30 s). */
  startTimeoutMs?: number;
}

const SERVER_LANE = 'server';

/**
 * Closes a queue, or drops its connection when closing takes too long: a queue whose
 * Redis is gone, or came back with another password, would otherwise retry forever.
 */
async function closeQueue(queue: Queue): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([queue.close().catch(() => {}), new Promise((resolve) => (timer = setTimeout(resolve, 2000)))]);
  clearTimeout(timer);
  await queue.disconnect().catch(() => {});
}


class Run extends RunTimeline<EvalRunRequest> {
  /** `queue|jobId` of every job of this run (the eval job, its cleanup jobs). */
  readonly jobs = new Set<string>();
  /** Work in progress in a worker process, keyed `pid|...`, valued by pid. */
  readonly inFlight = new Map<string, number>();
  readonly pendingLinks = new Set<string>();
  readonly doneLinks = new Set<string>();
  enqueued = false;
  final: 'completed' | 'failed' | null = null;
  lost = false;
  killRequest: { lane: string; pid: number; phase: KillPhase } | null = null;

  constructor(
    request: EvalRunRequest,
    key: string,
    readonly queue: EvalQueueName,
    readonly evalJobId: string,
    log: Logger,
  ) {
    super(request, key, log);
    this.jobs.add(`${queue}|${evalJobId}`);
  }
}

const LEVELS = new Set<LogLevel>(['debug', 'info', 'warn', 'error']);

class Runtime implements EvalRuntime {
  private current: Run | null = null;
  private chain: Promise<unknown> = Promise.resolve();
  private counter = 0;
  private closed = false;
  readonly queuePrefix: string;

  constructor(
    private readonly instance: string,
    private readonly supervisor: Supervisor,
    private readonly queues: Record<QueueName, Queue>,
    private readonly settings: Required<Omit<EvalRuntimeOptions, 'log' | 'redisUrl'>>,
    private readonly log: Logger,
  ) {
    this.queuePrefix = instancePrefix(instance);
    supervisor.on('message', (lane, pid, message) => this.onMessage(lane, pid, message));
    supervisor.on('exit', (lane, pid, code, signal) => this.onExit(lane, pid, code, signal));
    supervisor.on('restarted', (lane, pid, previousPid) => this.onRestarted(lane, pid, previousPid));
  }

  run(request: EvalRunRequest): Promise<EvalRunResult> {
    if (!FAULT_NAMES.includes(request.fault)) return Promise.reject(new TypeError(`unknown fault "${String(request.fault)}"`));
    const result = this.chain.then(() => this.execute(request));
    this.chain = result.catch(() => {});
    return result;
  }

  workers(): WorkerInfo[] {
    return this.supervisor.workers();
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.current?.finish('timed-out');
    await this.supervisor.close();
    // This server's queues go with it: no other server uses them. Best effort: Redis may be gone already.
    const removed = Promise.allSettled(Object.values(this.queues).map((queue) => queue.obliterate({ force: true })));
    await Promise.race([removed, new Promise((resolve) => setTimeout(resolve, 1000).unref())]);
    await Promise.allSettled(Object.values(this.queues).map(closeQueue));
  }

  private async execute(request: EvalRunRequest): Promise<EvalRunResult> {
    if (this.closed) throw new Error('the eval runtime is closed');
    const n = ++this.counter;
    const queue = queueForFault(request.fault);
    const run = new Run(request, `run-${this.instance}-${n}`, queue, `eval-${this.instance}-${n}`, this.log);
    const timer = setTimeout(() => this.timeOut(run), this.settings.runTimeoutMs);
    try {
      // Every worker up first (a worker killed by the previous run may still be restarting):
      // a fault needs a survivor, and what happens meanwhile belongs to no run.
      await Promise.race([this.supervisor.whenAllReady(), run.done]);
      if (!run.outcome) {
        this.current = run;
        const policy = EVAL_QUEUES[queue];
        const data: EvalJobData = {
          runId: run.key,
          evalId: request.evalId,
          pool: request.pool,
          executor: request.executor,
          release: request.release,
          callbacks: { link: request.callbacks.link, linkError: request.callbacks.linkError },
          fault: request.fault,
        };
        run.record(this.here(), {
          kind: 'enqueued',
          text:
            `server queues eval ${request.evalId} (on ${request.executor}) as job ${run.evalJobId} on ${queue}: ` +
            `${policy.describe}; lock ${this.settings.lockDurationMs} ms, stall check every ${this.settings.stalledIntervalMs} ms`,
          data: {
            queue,
            jobId: run.evalJobId,
            evalId: request.evalId,
            executor: request.executor,
            fault: request.fault,
            callbacks: data.callbacks,
            release: request.release,
          },
        });
        run.enqueued = true;
        await this.queues[queue].add('eval', data, { jobId: run.evalJobId, attempts: 1 });
      }
      const outcome = await run.done;
      const mechanism = run.enqueued
        ? describeMechanism(run.events, outcome, queue, this.settings.runTimeoutMs)
        : `the worker processes were not all up within ${this.settings.runTimeoutMs} ms: the eval was never queued`;
      run.record(this.here(), { kind: 'run-finished', text: `run over: ${outcome}`, data: { outcome } });
      return run.result(outcome, mechanism, { runtime: 'eval', fault: request.fault });
    } finally {
      clearTimeout(timer);
      if (this.current === run) this.current = null;
    }
  }

  private timeOut(run: Run): void {
    if (run.outcome) return;
    // Whatever still works on this run would spill into the next one: kill it (the supervisor restarts it).
    for (const pid of new Set(run.inFlight.values())) {
      const lane = this.supervisor.laneOf(pid);
      if (!lane) continue;
      run.record(this.here(), {
        kind: 'kill-sent',
        text: `run timed out: supervisor sends SIGKILL to ${lane} (pid ${pid}), still busy with it`,
        data: { lane, pid, reason: 'timeout', queue: null, jobId: null, phase: null },
      });
      this.supervisor.kill(lane);
    }
    // Not picked up yet? Then it never will be: it would release an executor outside any run.
    this.queues[run.queue].remove(run.evalJobId).catch(() => 0);
    run.finish('timed-out');
  }

  /** The run a message belongs to: by its run key, else by its job; an unattributed message goes to the run in progress. */
  private runFor(runKey: string | null, job: JobRef | null): Run | null {
    const run = this.current;
    if (!run || run.outcome) return null;
    if (runKey !== null) return runKey === run.key ? run : null;
    if (job) return run.jobs.has(`${job.queue}|${job.jobId}`) ? run : null;
    return run;
  }

  private onMessage(lane: string, pid: number, message: ChildMessage): void {
    if (message.type === 'log') {
      this.forwardLog(message.line);
      return;
    }
    const run = this.runFor('runId' in message ? message.runId : null, 'job' in message ? message.job : null);
    if (message.type === 'kill-me' && !run) {
      // A fault's process hangs until killed, whatever run it was for (say one that timed out before
      // the job was picked up): left alive it would hold its job's lock, renewed, forever.
      this.log.warn('killing a worker at a fault checkpoint outside its run', { lane, pid, runId: message.runId });
      this.supervisor.kill(lane);
      return;
    }
    if (!run) {
      this.log.debug('worker message outside its run', { lane, pid, type: message.type });
      return;
    }
    switch (message.type) {
      case 'event':
        run.record({ at: message.at, lane: message.lane ?? lane, pid: message.pid === undefined ? pid : message.pid }, message.entry);
        break;
      case 'processing': {
        const key = `${pid}|${message.job.queue}|${message.job.jobId}`;
        if (message.phase === 'start') {
          run.inFlight.set(key, pid);
        } else {
          run.inFlight.delete(key);
          if (message.job.queue === CALLBACK_QUEUE) {
            run.doneLinks.add(message.job.jobId);
            run.pendingLinks.delete(message.job.jobId);
          }
        }
        break;
      }
      case 'link-dispatched':
        run.jobs.add(`${CALLBACK_QUEUE}|${message.linkJobId}`);
        // The cleanup job may already be done: it ran in another process, whose messages can overtake ours.
        if (!run.doneLinks.has(message.linkJobId)) run.pendingLinks.add(message.linkJobId);
        break;
      case 'final':
        if (message.job.jobId === run.evalJobId && !run.final) run.final = message.state;
        break;
      case 'callback':
        if (message.phase === 'start') {
          run.inFlight.set(`${pid}|callback|${message.callId}`, pid);
        } else {
          run.inFlight.delete(`${pid}|callback|${message.callId}`);
          if (message.reply) run.callbacks.push({ callback: message.callback, lane: message.lane, pid, reply: message.reply, at: message.at });
        }
        break;
      case 'kill-me':
        run.killRequest = { lane, pid, phase: message.phase };
        run.record(this.here(), {
          kind: 'kill-sent',
          text: `supervisor sends SIGKILL to ${lane} (pid ${pid}) while it holds eval job ${message.job.jobId}`,
          data: { lane, pid, reason: 'fault', queue: message.job.queue, jobId: message.job.jobId, phase: message.phase },
        });
        if (!this.supervisor.kill(lane)) this.log.warn('could not kill worker', { lane, pid });
        break;
      default:
        break;
    }
    this.settle(run);
  }

  private onExit(lane: string, pid: number, code: number | null, signal: NodeJS.Signals | null): void {
    const run = this.runFor(null, null);
    if (!run) return;
    let hadWork = false;
    for (const [key, owner] of run.inFlight) {
      if (owner === pid) {
        run.inFlight.delete(key);
        hadWork = true;
      }
    }
    const requested = run.killRequest?.pid === pid;
    run.record(
      { at: Date.now(), lane, pid },
      {
        kind: 'worker-killed',
        text: `${lane} (pid ${pid}) is dead: ${signal ? `killed by ${signal}` : `exit code ${code}`}${hadWork ? ', its job left active in Redis' : ''}`,
        data: { pid, signal, code, requested, hadWork, phase: requested ? run.killRequest!.phase : null },
      },
    );
    if (requested && run.request.fault === 'worker-killed-silent') run.lost = true;
    this.settle(run);
  }

  private onRestarted(lane: string, pid: number, previousPid: number): void {
    const run = this.runFor(null, null);
    if (!run) return;
    run.record({ at: Date.now(), lane, pid }, { kind: 'worker-restarted', text: `supervisor restarted ${lane}: pid ${previousPid} → ${pid}, ready for jobs`, data: { pid, previousPid } });
    this.settle(run);
  }

  /** Where and when a step of the server's own happens. */
  private here(): { at: number; lane: string; pid: number } {
    return { at: Date.now(), lane: SERVER_LANE, pid: process.pid };
  }

  /** Finished: final state (or lost by design), nothing in flight, no cleanup job pending, every worker up. */
  private settle(run: Run): void {
    if (run.outcome) return;
    if (!run.final && !run.lost) return;
    if (run.inFlight.size > 0 || run.pendingLinks.size > 0) return;
    if (!this.supervisor.allReady()) return;
    run.finish(run.lost ? 'lost' : run.final!);
  }

  private forwardLog(line: string): void {
    try {
      const { level, msg, time: _time, ...fields } = JSON.parse(line) as { level: LogLevel; msg: string; time?: string } & LogFields;
      (LEVELS.has(level) ? this.log[level] : this.log.info)(String(msg), fields);
    } catch {
      this.log.info(line);
    }
  }
}

export async function startEvalRuntime(options: EvalRuntimeOptions): Promise<EvalRuntime> {
  const lockDurationMs = options.lockDurationMs ?? 1000;
  const stalledIntervalMs = options.stalledIntervalMs ?? 500;
  const settings = {
    workers: options.workers ?? 2,
    lockDurationMs,
    stalledIntervalMs,
    runTimeoutMs: options.runTimeoutMs ?? 20_000,
    blockMs: options.blockMs ?? lockDurationMs + 3 * stalledIntervalMs,
    doubleReleaseWindowMs: options.doubleReleaseWindowMs ?? 1000,
    busyTtlSeconds: options.busyTtlSeconds ?? 600,
    startTimeoutMs: options.startTimeoutMs ?? 30_000,
  };
  const log = options.log.child({ component: 'eval-runtime' });
  const connection = bullConnection(options.redisUrl);
  const instance = randomBytes(4).toString('hex');
  const bullPrefix = instancePrefix(instance);
  const queues = Object.fromEntries(
    ALL_QUEUES.map((name) => {
      const queue = new Queue(name, { connection, prefix: bullPrefix });
      queue.on('error', (error) => log.warn('queue error', { queue: name, error: error.message }));
      return [name, queue];
    }),
  ) as Record<QueueName, Queue>;
  const logLevel: LogLevel = 'info';
  const supervisor = new Supervisor(
    settings.workers,
    (lane) => ({
      lane,
      redisUrl: options.redisUrl,
      bullPrefix,
      lockDurationMs,
      stalledIntervalMs,
      blockMs: settings.blockMs,
      doubleReleaseWindowMs: settings.doubleReleaseWindowMs,
      busyTtlSeconds: settings.busyTtlSeconds,
      logLevel,
    }),
    log,
  );
  try {
    // Nothing to wipe: this server's queues are new (instancePrefix), and another server's are not ours to touch.
    await supervisor.start(settings.startTimeoutMs);
  } catch (error) {
    await supervisor.close();
    await Promise.allSettled(Object.values(queues).map(closeQueue));
    throw error;
  }
  return new Runtime(instance, supervisor, queues, settings, log);
}
