/**
 * The Celery runtime: the same eval runs as the BullMQ runtime, on real `celery
 * worker` processes. The server sends the eval through the Python driver, the
 * tasks report each step (python/idem_celery), and this turns those reports into
 * the run's timeline and its callbacks, with Redis' replies.
 *
 *   const celery = createCeleryRuntime({ redisUrl, log });
 *   const result = await celery.run({ runId, evalId, pool, executor, release: 'lua',
 *     callbacks: { link: true, linkError: true }, fault: 'child-killed', onEvent });
 *
 * Started on first use (a Python interpreter and two workers take a few seconds);
 * runs are serialized, as faults kill the workers a concurrent run would use.
 * A run is over when the eval's state in Celery's backend is final, no message of
 * it is left queued or unacknowledged in the broker, no callback is mid-release,
 * every worker is up, and nothing happened for a moment; or at its deadline.
 */
import { randomUUID } from 'node:crypto';
import { TimelineEventSchema, type CeleryFaultName, type KillPhase, type ReleaseKind, type ReleaseReply, type ReleaseStatus, type TimelineEntry } from '../../protocol.ts';
import type { Logger } from '../../log.ts';
import { poolKeys } from '../../pool/keys.ts';
import { startPrivateRedis, type PrivateRedis } from '../../redis/privateRedis.ts';
import type { CallbackRun, EvalRunOutcome, EvalRunRequest, EvalRunResult, WorkerInfo } from '../types.ts';
import { RunTimeline } from '../runTimeline.ts';
import { CeleryDriver, type DriverMessage, type ReportedStep } from './celeryDriver.ts';
import { CeleryWorkers } from './celeryWorkers.ts';
import { CELERY_FAULTS, type CeleryFault } from '../../../common/celeryFaults.ts';

export type CeleryRunRequest = Omit<EvalRunRequest, 'fault'> & { fault: CeleryFaultName };

export interface CeleryRuntime {
  run(request: CeleryRunRequest): Promise<EvalRunResult>;
  /**
   * Redis restarted with a new password (server/redis/privateRedisKeeper.ts): the
   * workers and the driver are started again on `redisUrl`, after the run playing
   * (cut short: its Redis is gone) and before the next.
   */
  restart(redisUrl: string): Promise<void>;
  workers(): WorkerInfo[];
  close(): Promise<void>;
}

export interface CeleryRuntimeOptions {
  redisUrl: string;
  log: Logger;
  /** `celery worker` processes (default 2: a fault needs a survivor). */
  workers?: number;
  /** kombu's visibility_timeout, seconds (default 0.5; Celery's own default is an hour). */
  visibilityTimeoutSeconds?: number;
  /** Hard deadline of one run (default 30 s). */
  runTimeoutMs?: number;
  /** Quiet time after the last step before a finished-looking run is declared over (default 700 ms). */
  quietMs?: number;
  /** Python and the workers may take this long to start (default 60 s). */
  startTimeoutMs?: number;
  /** Two releases closer than this are flagged `doubleRelease` (default 1000). */
  doubleReleaseWindowMs?: number;
}

/** The one queue of the Celery runtime (python/idem_celery/settings.py EVAL_QUEUE). */
const CELERY_EVAL_QUEUE = 'idem-evals';
const SERVER_LANE = 'server';
/** The restartIdleWorker faults restart the idle workers this long after the visibility timeout passed. */
const RESTART_MARGIN_MS = 250;
/**
 * How long, beyond the visibility timeout, the restartIdleWorker faults' eval runs: time for an idle
 * worker's warm shutdown and a new `celery worker` to start (a few seconds on two busy cores).
 */
const IDLE_RESTART_SECONDS = 8;
const FINAL_STATES = new Set(['SUCCESS', 'FAILURE']);

/** What a Python step carries for a release: the raw reply, which the server reads into a ReleaseReply. */
interface ReportedRelease {
  queue: string;
  jobId: string;
  callback: 'link' | 'link_error';
  callbackLane: string;
  callbackPid: number;
  release: 'lua' | 'naive';
  executor: string;
  raw: (number | string)[];
}

/** The release script's reply (or the naive commands'), as the server's pools report it. */
export function releaseReplyFrom(executor: string, kind: 'lua' | 'naive', raw: (number | string)[], windowMs: number): ReleaseReply {
  if (kind === 'lua') {
    const [wasBusy, added, status, nowMs, previousMs] = raw as [number, number, string, number, number];
    const sinceLastReleaseMs = previousMs >= 0 ? nowMs - previousMs : null;
    return {
      executor,
      wasBusy: wasBusy === 1 ? 1 : 0,
      added: added === 1 ? 1 : 0,
      status: status as ReleaseStatus,
      reply: raw,
      doubleRelease: sinceLastReleaseMs !== null && sinceLastReleaseMs < windowMs,
      sinceLastReleaseMs,
    };
  }
  return { executor, wasBusy: raw[0] === 1 ? 1 : 0, added: 1, status: 'released', reply: raw, doubleRelease: false, sinceLastReleaseMs: null };
}

class CeleryRun extends RunTimeline<CeleryRunRequest> {
  readonly taskId = randomUUID();
  sent = false;
  /** The latest kill a task asked for, per lane: what a dying worker had done by then. */
  readonly killPhases = new Map<string, KillPhase>();
  state = 'PENDING';
  pending = 0;
  releasing = 0;
  /** `link` tasks sent whose release has not started: a worker may hold one, already acknowledged, not yet running. */
  readonly pendingLinks = new Set<string>();
  /** `link` tasks whose release started: its report may overtake the one saying it was sent. */
  readonly startedLinks = new Set<string>();
  /** Processes (pid → lane) running the eval right now, hooks included. */
  readonly running = new Map<number, string>();
  /** The client waits on the eval's result with .get() (the result-get faults): the run is not over before it returns. */
  awaiting = false;
  /** Lanes the server restarts on purpose during this run (restartIdleWorker): their exit is no death. */
  readonly restartingLanes = new Set<string>();
  /** The pending restart of the idle workers (restartIdleWorker), cleared when the run ends. */
  restartTimer: NodeJS.Timeout | null = null;
}

class Runtime implements CeleryRuntime {
  private current: CeleryRun | null = null;
  private chain: Promise<unknown> = Promise.resolve();
  private counter = 0;
  private closed = false;
  /** The driver is being started again on purpose: its exit is no failure. */
  private restarting = false;
  private started: Promise<void> | null = null;
  /** A redis-server started with `--proto-max-bulk-len 1mb`: the result backend of the result-too-large fault. */
  private limitedBackend: PrivateRedis | null = null;
  private readonly workersOf: CeleryWorkers;
  private readonly driver: CeleryDriver;
  private readonly settings: Required<Omit<CeleryRuntimeOptions, 'log' | 'redisUrl'>>;
  private readonly instance = Date.now().toString(36);
  private settleTimer: NodeJS.Timeout | null = null;

  constructor(
    private readonly options: CeleryRuntimeOptions,
    private readonly log: Logger,
  ) {
    this.settings = {
      workers: options.workers ?? 2,
      visibilityTimeoutSeconds: options.visibilityTimeoutSeconds ?? 0.5,
      runTimeoutMs: options.runTimeoutMs ?? 30_000,
      quietMs: options.quietMs ?? 700,
      startTimeoutMs: options.startTimeoutMs ?? 60_000,
      doubleReleaseWindowMs: options.doubleReleaseWindowMs ?? 1000,
    };
    this.workersOf = new CeleryWorkers(
      this.settings.workers,
      { redisUrl: options.redisUrl, limitedBackendUrl: null, visibilityTimeoutSeconds: this.settings.visibilityTimeoutSeconds, deduplicate: false },
      log,
    );
    this.driver = new CeleryDriver({ redisUrl: options.redisUrl, limitedBackendUrl: null }, log);
    this.driver.on('message', (message) => this.onDriver(message));
    this.driver.on('exit', (code) => {
      if (!this.closed && !this.restarting) this.log.error('celery driver exited', { code });
      this.current?.finish('timed-out');
    });
    this.workersOf.on('exit', (lane, pid, code, signal) => {
      const run = this.current;
      if (!run || run.outcome || run.restartingLanes.has(lane)) return;
      let hadWork = false;
      for (const [running, runningLane] of run.running) {
        if (runningLane !== lane) continue;
        run.running.delete(running);
        hadWork = true;
      }
      const phase = run.killPhases.get(lane) ?? null;
      run.killPhases.delete(lane);
      run.record({ at: Date.now(), lane, pid }, {
        kind: 'worker-killed',
        text: `${lane} (pid ${pid}) is dead: ${signal ? `killed by ${signal}` : `exit code ${code}`}${hadWork ? ', its message still unacknowledged in the broker' : ''}`,
        data: { pid, signal, code, requested: phase !== null, hadWork, phase },
      });
    });
    this.workersOf.on('restarted', (lane, pid, previousPid) => {
      const run = this.current;
      if (!run || run.outcome) return;
      const text = run.restartingLanes.delete(lane)
        ? `${lane} is up again: pid ${previousPid} → ${pid} (starting, a worker restores the messages unacknowledged for longer than the visibility timeout)`
        : `supervisor restarted ${lane}: pid ${previousPid} → ${pid}`;
      run.record({ at: Date.now(), lane, pid }, { kind: 'worker-restarted', text, data: { pid, previousPid } });
      this.settle(run);
    });
    this.workersOf.on('line', (lane, pid, line) => {
      const run = this.current;
      if (!run || run.outcome || !line.includes(run.taskId)) return;
      // Celery says so only in its log (trace.py's LOG_IGNORED): the skipped eval runs none of our code.
      if (/already completed successfully/.test(line)) {
        run.record({ at: Date.now(), lane, pid }, {
          kind: 'deduplicated',
          text: `${lane} got the eval again and skipped it: worker_deduplicate_successful_tasks found SUCCESS in the backend`,
          data: { queue: CELERY_EVAL_QUEUE, jobId: run.taskId },
        });
      }
    });
  }

  run(request: CeleryRunRequest): Promise<EvalRunResult> {
    if (request.release === 'fenced') return Promise.reject(new TypeError('the Celery tasks carry no fencing token: naive or lua only'));
    if (!(request.fault in CELERY_FAULTS)) return Promise.reject(new TypeError(`unknown Celery fault "${String(request.fault)}"`));
    const result = this.chain.then(() => this.execute(request));
    this.chain = result.catch(() => {});
    return result;
  }

  restart(redisUrl: string): Promise<void> {
    if (this.closed) return Promise.resolve();
    this.current?.finish('timed-out');
    const restarted = this.chain.then(() => this.restartOn(redisUrl));
    this.chain = restarted.catch(() => {});
    return restarted;
  }

  workers(): WorkerInfo[] {
    return this.workersOf.workers();
  }

  private async restartOn(redisUrl: string): Promise<void> {
    this.workersOf.configure({ redisUrl });
    this.driver.configure({ redisUrl });
    // Never started: the first run starts them on the new url.
    if (!this.started || this.closed) return;
    this.log.info('restarting the celery workers and driver on the restarted Redis', {});
    this.restarting = true;
    try {
      await this.started.catch(() => {});
      await this.driver.close();
      this.started = Promise.all([this.workersOf.restartWith({}, this.settings.startTimeoutMs), this.startDriver()]).then(() => {});
      await this.started;
    } finally {
      this.restarting = false;
    }
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.current?.finish('timed-out');
    await this.started?.catch(() => {});
    await Promise.allSettled([this.driver.close(), this.workersOf.close()]);
    await this.limitedBackend?.stop();
  }

  private start(): Promise<void> {
    this.started ??= (async () => {
      // The result-too-large fault's result backend: a redis-server of its own, so no shared Redis changes its limits.
      // Without one (no redis-server here, REDIS_URL set) every other fault runs, and that one is refused.
      this.limitedBackend = await startPrivateRedis({ extraArgs: ['--proto-max-bulk-len', '1mb'] }).catch((error: unknown) => {
        this.log.warn('no limited result backend: the result-too-large fault is off', { error: String(error) });
        return null;
      });
      this.workersOf.configure({ limitedBackendUrl: this.limitedBackend?.url ?? null });
      this.driver.configure({ limitedBackendUrl: this.limitedBackend?.url ?? null });
      await Promise.all([this.workersOf.start(this.settings.startTimeoutMs), this.startDriver()]);
    })();
    return this.started;
  }

  /**
   * The driver is one Python process; one that dies while it starts (an import or a
   * first connection failing on a loaded machine) gets one more try before the run
   * that needed it fails.
   */
  private async startDriver(): Promise<void> {
    try {
      await this.driver.start(this.settings.startTimeoutMs);
    } catch (error) {
      if (this.closed) throw error;
      this.log.warn('celery driver did not start; trying once more', { error: String(error) });
      await this.driver.start(this.settings.startTimeoutMs);
    }
  }

  private async execute(request: CeleryRunRequest): Promise<EvalRunResult> {
    if (this.closed) throw new Error('the Celery runtime is closed');
    await this.start();
    const fault = CELERY_FAULTS[request.fault];
    if (fault.limitedBackend && !this.limitedBackend) throw new Error(`${request.fault} needs a redis-server to start as its result backend, and none could be started`);
    const run = new CeleryRun(request, `celery-${this.instance}-${++this.counter}`, this.log);
    this.current = run;
    const timer = setTimeout(() => run.finish('timed-out'), this.settings.runTimeoutMs);
    this.settleTimer = setInterval(() => this.settle(run), 100);
    try {
      if (this.workersOf.deduplicate !== fault.deduplicate) {
        run.record({ at: Date.now(), lane: SERVER_LANE, pid: process.pid }, {
          kind: 'workers-restarting',
          text: `restarting the celery workers with worker_deduplicate_successful_tasks=${fault.deduplicate ? 'True' : 'False'} (a worker setting)`,
          data: { deduplicate: fault.deduplicate },
        });
        await this.workersOf.restartWith({ deduplicate: fault.deduplicate }, this.settings.startTimeoutMs);
      }
      await Promise.race([this.workersOf.whenAllReady(), run.done]);
      if (!run.outcome) {
        const keys = poolKeys(request.pool);
        const visibility = this.settings.visibilityTimeoutSeconds;
        run.record({ at: Date.now(), lane: SERVER_LANE, pid: process.pid }, {
          kind: 'enqueued',
          text:
            `server sends eval ${request.evalId} (on ${request.executor}) to Celery with ${sendCall(fault, request.callbacks)}` +
            `; fault: ${fault.label}; visibility_timeout ${visibility} s${fault.timeLimitSeconds ? `, time_limit ${fault.timeLimitSeconds} s` : ''}`,
          data: {
            queue: CELERY_EVAL_QUEUE,
            jobId: run.taskId,
            evalId: request.evalId,
            executor: request.executor,
            fault: request.fault,
            release: request.release,
            callbacks: { link: request.callbacks.link, linkError: request.callbacks.linkError },
          },
        });
        this.driver.send({
          type: 'run',
          run: run.key,
          taskId: run.taskId,
          timeLimit: fault.timeLimitSeconds,
          payload: {
            evalId: request.evalId,
            pool: request.pool,
            executor: request.executor,
            release: talkRelease(request.release),
            fault: request.fault,
            callbacks: request.callbacks,
            keys: {
              busy: keys.busyPrefix + request.executor,
              available: keys.available,
              releaseTimes: keys.releaseTimesPrefix + request.executor,
            },
            slowSeconds: fault.restartIdleWorker ? visibility + IDLE_RESTART_SECONDS : Math.max(2, visibility * 4),
          },
        });
      }
      const outcome = await run.done;
      const mechanism = describeCeleryMechanism(run, run.sortedCallbacks(), outcome);
      run.record({ at: Date.now(), lane: SERVER_LANE, pid: process.pid }, { kind: 'run-finished', text: `run over: ${outcome}`, data: { outcome } });
      return run.result(outcome, mechanism, { runtime: 'celery', fault: request.fault });
    } finally {
      clearTimeout(timer);
      if (run.restartTimer) clearTimeout(run.restartTimer);
      if (this.settleTimer) clearInterval(this.settleTimer);
      this.settleTimer = null;
      if (this.driver.alive) this.driver.send({ type: 'forget', run: run.key });
      if (this.current === run) this.current = null;
    }
  }

  private onDriver(message: DriverMessage): void {
    const run = this.current;
    if (message.type === 'error') {
      this.log.warn('celery driver error', { run: message.run, message: message.message });
      return;
    }
    if (!run || run.outcome) return;
    switch (message.type) {
      case 'sent':
        if (message.run === run.key) run.sent = true;
        break;
      case 'message':
      case 'awaited':
      case 'got':
        if (message.run === run.key) this.onClient(run, message);
        break;
      case 'status':
        if (message.run !== run.key) return;
        run.state = message.state;
        run.pending = message.pending;
        // Celery stores a failure before it calls the errbacks: what they report comes after this.
        run.lastEventAt = Date.now();
        break;
      case 'event':
        if (message.event.run !== run.key) return;
        this.onStep(run, message.event);
        break;
      default:
        break;
    }
    this.settle(run);
  }

  private onStep(run: CeleryRun, step: ReportedStep): void {
    if (step.kind === 'release-reply') return this.onRelease(run, step);
    const parsed = TimelineEventSchema.safeParse({ seq: 1, at: step.at, lane: step.lane, pid: step.pid, kind: step.kind, text: step.text, data: step.data });
    if (!parsed.success) {
      this.log.warn('celery task reported a step the timeline does not know', { kind: step.kind, error: parsed.error.message });
      return;
    }
    const event = parsed.data;
    switch (event.kind) {
      case 'callback-started':
        run.releasing++;
        if (event.data.callback === 'link') {
          run.startedLinks.add(event.data.jobId);
          run.pendingLinks.delete(event.data.jobId);
        }
        break;
      case 'link-dispatched':
        if (!run.startedLinks.has(event.data.linkJobId)) run.pendingLinks.add(event.data.linkJobId);
        break;
      case 'callback-error':
        run.releasing = Math.max(0, run.releasing - 1);
        break;
      case 'task-ran':
      case 'task-raised':
        if (event.pid !== null) run.running.set(event.pid, event.lane);
        break;
      case 'task-finished':
        if (event.pid !== null) run.running.delete(event.pid);
        break;
      case 'hook-fault':
        if (event.data.effect === 'slow' && CELERY_FAULTS[run.request.fault].restartIdleWorker) this.restartIdleWorkers(run, event.lane, event.at);
        break;
      case 'kill-requested':
        if (event.pid !== null) run.running.delete(event.pid);
        run.killPhases.set(event.lane, event.data.phase);
        break;
      case 'job-failed':
        // Failed by the worker's main process (WorkerLostError, a time limit): its pool child is gone.
        if (event.pid !== null && this.workersOf.laneOf(event.pid) === event.lane) {
          for (const [pid, lane] of run.running) if (lane === event.lane) run.running.delete(pid);
        }
        break;
      default:
        break;
    }
    const { seq: _seq, at, lane, pid, ...entry } = event;
    run.record({ at, lane, pid }, entry as TimelineEntry);
  }

  /**
   * The restartIdleWorker faults: once the slow eval's message has been unacknowledged for longer than the
   * visibility timeout (it was delivered before the eval reported it is slow, at `slowAt`), every other worker
   * is restarted, as a deploy or a scale-up would. kombu restores such messages when a worker starts
   * (transport/redis.py:536 on_poll_init → :396 restore_visible), so the new worker takes the eval again
   * while the first still runs it. Nothing is sent to the eval; the first worker is left alone.
   */
  private restartIdleWorkers(run: CeleryRun, busyLane: string, slowAt: number): void {
    const visibilityMs = this.settings.visibilityTimeoutSeconds * 1000;
    const idle = this.workersOf.workers().filter((worker) => worker.lane !== busyLane);
    run.restartTimer = setTimeout(() => {
      run.restartTimer = null;
      if (run.outcome) return;
      for (const worker of idle) {
        run.restartingLanes.add(worker.lane);
        run.record({ at: Date.now(), lane: worker.lane, pid: worker.pid }, {
          kind: 'worker-restarting',
          text:
            `server restarts idle ${worker.lane} (warm shutdown, then a new celery worker), as a deploy would: ` +
            `the eval, still running on ${busyLane}, has been unacknowledged for more than the visibility timeout (${this.settings.visibilityTimeoutSeconds} s)`,
          data: { queue: CELERY_EVAL_QUEUE, jobId: run.taskId, visibilityTimeoutSeconds: this.settings.visibilityTimeoutSeconds, unackedMs: Date.now() - slowAt },
        });
        this.workersOf.restartLane(worker.lane, this.settings.startTimeoutMs).catch((error: unknown) => {
          this.log.warn('restarting an idle celery worker failed', { lane: worker.lane, error: String(error) });
        });
      }
    }, Math.max(0, slowAt + visibilityMs + RESTART_MARGIN_MS - Date.now()));
  }

  /** What the driver, Celery's client here, saw of the eval: its message as published, and a .get() on its result. */
  private onClient(run: CeleryRun, message: Extract<DriverMessage, { type: 'message' | 'awaited' | 'got' }>): void {
    const where = { at: Date.now(), lane: SERVER_LANE, pid: this.driver.pid };
    const job = { queue: CELERY_EVAL_QUEUE, jobId: message.taskId };
    switch (message.type) {
      case 'message': {
        const { protocol, links, errbacks, chained } = message;
        run.record(where, {
          kind: 'eval-message',
          text: `the eval's message (task protocol ${protocol}) carries link ×${links}, link_error ×${errbacks}${chained ? `, ${chained} chained step(s)` : ''}`,
          data: { ...job, protocol, links, errbacks, chained },
        });
        break;
      }
      case 'awaited':
        run.awaiting = true;
        run.record(where, {
          kind: 'result-awaited',
          text: `the client waits with .get(): ${message.subscribers} subscriber(s) on the result's pubsub channel, state ${message.state}`,
          data: { ...job, subscribers: message.subscribers, state: message.state },
        });
        break;
      case 'got':
        run.awaiting = false;
        run.record(where, {
          kind: 'result-received',
          text: `.get() returned ${message.state} after ${message.ms} ms (read: ${message.seen.join(' → ') || 'nothing'})`,
          data: { ...job, state: message.state, ms: message.ms, seen: message.seen },
        });
        break;
    }
  }

  /** A release's raw reply, read into the protocol's ReleaseReply here, as the server's pools read theirs. */
  private onRelease(run: CeleryRun, step: ReportedStep): void {
    run.releasing = Math.max(0, run.releasing - 1);
    const data = step.data as unknown as ReportedRelease;
    const reply = releaseReplyFrom(data.executor, data.release, data.raw, this.settings.doubleReleaseWindowMs);
    run.callbacks.push({ callback: data.callback, lane: data.callbackLane, pid: data.callbackPid, reply, at: Date.now() });
    const verdict =
      reply.status === 'released' ? `${reply.executor} is back in the pool` : reply.status === 'already_in_pool' ? 'it was already in the pool: nothing added' : 'it was not busy: nothing added';
    run.record({ at: step.at, lane: 'redis', pid: null }, {
      kind: 'release-reply',
      text: `${data.callback}'s release: ${reply.status} [${reply.reply.map((p) => JSON.stringify(p)).join(', ')}], ${verdict}`,
      data: { ...reply, queue: data.queue, jobId: data.jobId, callback: data.callback, callbackLane: data.callbackLane, callbackPid: data.callbackPid, release: data.release },
    });
  }

  private settle(run: CeleryRun): void {
    if (run.outcome || !run.sent) return;
    if (!FINAL_STATES.has(run.state) || run.pending > 0 || run.releasing > 0 || run.running.size > 0 || run.pendingLinks.size > 0 || run.awaiting) return;
    if (!this.workersOf.allReady()) return;
    if (Date.now() - run.lastEventAt < this.settings.quietMs) return;
    run.finish(run.state === 'SUCCESS' ? 'completed' : 'failed');
  }
}

/** What Celery did, from what the tasks and the supervisor observed (not from the fault's name). */
export function describeCeleryMechanism(run: CeleryRun, callbacks: CallbackRun[], outcome: EvalRunOutcome): string {
  const steps: string[] = [];
  const ran = run.events.filter((e) => e.kind === 'task-ran' || e.kind === 'task-raised');
  if (ran.length > 1) steps.push(`the eval ran ${ran.length} times (Celery delivered it again)`);
  for (const event of run.events) {
    if (event.kind === 'kill-requested' || event.kind === 'worker-killed' || event.kind === 'worker-restarting') steps.push(event.text);
    if (event.kind === 'job-failed') steps.push(event.text);
    if (event.kind === 'deduplicated' || event.kind === 'errback-called') steps.push(event.text);
  }
  const count = (name: 'link' | 'link_error') => callbacks.filter((c) => c.callback === name).length;
  steps.push(`Celery ran link ×${count('link')}, link_error ×${count('link_error')}`);
  if (outcome === 'timed-out') {
    steps.push(
      `the run did not finish within its deadline (eval ${run.state}, ${run.pending} message(s) of it in the broker, ` +
        `${run.running.size} process(es) still running it, ${run.releasing} release(s) under way, ` +
        `${run.pendingLinks.size} link(s) sent and never started${run.sent ? '' : ', never sent'})`,
    );
  }
  const fault = CELERY_FAULTS[run.request.fault];
  const expected = fault.expected;
  const wanted = { link: run.request.callbacks.link ? expected.link : 0, linkError: run.request.callbacks.linkError ? expected.linkError : 0 };
  if (count('link') === wanted.link && count('link_error') === wanted.linkError) steps.push(`${fault.mechanism} (${fault.source})`);
  return steps.join('; ');
}

export function createCeleryRuntime(options: CeleryRuntimeOptions): CeleryRuntime {
  return new Runtime(options, options.log.child({ component: 'celery-runtime' }));
}

/** How the driver sends the eval (python/idem_celery/driver.py send_run), in Celery's words. */
function sendCall(fault: CeleryFault, callbacks: CeleryRunRequest['callbacks']): string {
  if (fault.frozenChain) {
    return `chain(eval${callbacks.link ? ', release_on_success' : ''})${callbacks.linkError ? '.on_error(release_on_failure)' : ''}, freeze(), apply_async()`;
  }
  const attached = [callbacks.link ? 'link=release_on_success' : '', callbacks.linkError ? 'link_error=release_on_failure' : ''].filter(Boolean);
  return `apply_async(${attached.join(', ')})`;
}

/** The releases the Python tasks know; the fenced one needs a token they do not carry (refused in run()). */
function talkRelease(release: ReleaseKind): 'lua' | 'naive' {
  if (release === 'fenced') throw new TypeError('the Celery tasks carry no fencing token: naive or lua only');
  return release;
}
