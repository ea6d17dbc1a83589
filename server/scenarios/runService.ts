/**
 * Starts scenario runs, one at a time, and keeps their records in Redis (runStore.ts),
 * so every instance reads them. One at a time because faults kill real worker
 * processes: two runs at once would see each other's crashes; the stage is per
 * instance. The queue has two lanes: the presenter's runs are never refused and
 * play before any audience run waiting (the next one the moment the stage is free);
 * the audience's take a short queue, one run per session, and are shed first: past
 * the queue's size a viewer is told the stage is busy, and a presenter's run pushes
 * the newest audience run out. Every change is announced once the store has it.
 */
import { EventEmitter } from 'node:events';
import { randomBytes } from 'node:crypto';
import { CeleryFaultName, FaultName, type RunRecord, type RunSummary, type ScenarioName, type StartRunRequest, type TimelineEvent } from '../protocol.ts';
import { ClientError } from '../errors.ts';
import { RunRecorder } from './runRecorder.ts';
import type { RunStore } from './runStore.ts';
import { SCENARIOS, type ScenarioContext } from './scenarios.ts';

export interface RunServiceEvents {
  started: [run: RunSummary];
  event: [update: { runId: string; scenario: ScenarioName; event: TimelineEvent }];
  finished: [run: RunRecord];
}

/** Who asks for a run: the presenter's lane, or a viewer session's place in the audience's. */
export type RunRequester = { presenter: true } | { presenter: false; session: string };

interface QueuedRun {
  recorder: RunRecorder;
  play(): Promise<void>;
  /** The audience session that queued it; null for the presenter's. */
  session: string | null;
}

export class RunService extends EventEmitter<RunServiceEvents> {
  /** The run playing, until its record is stored: what idle() and shutdown() wait for. */
  private tail: Promise<unknown> = Promise.resolve();
  /** Runs waiting behind the one playing, per lane, in order. */
  private readonly presenterQueue: QueuedRun[] = [];
  private readonly audienceQueue: QueuedRun[] = [];
  private playing: RunRecorder | null = null;
  /** Set by shutdown(): why no run may play any more. */
  private closedBecause: string | null = null;

  constructor(
    private readonly ctx: ScenarioContext,
    private readonly store: RunStore,
    private readonly options: { maxQueued: number },
  ) {
    super();
  }

  /** Every scenario's pool, for the pools that viewers may watch. */
  static pools(): string[] {
    return Object.values(SCENARIOS).map((s) => s.pool);
  }

  /**
   * Queues a run and returns its summary once its record is stored; the run itself plays in the background.
   * Without `from`, the run is the presenter's (scripts, recordings): the server's own callers are trusted.
   */
  async start(scenario: ScenarioName, request: StartRunRequest, from: RunRequester = { presenter: true }): Promise<RunSummary> {
    if (this.closedBecause) throw new ClientError('redis_unavailable', `no new runs: ${this.closedBecause}`);
    if (!from.presenter) {
      if (this.audienceQueue.some((queued) => queued.session === from.session)) {
        throw new ClientError('stage_busy', 'your run is still waiting for the stage: one at a time');
      }
      if (this.presenterQueue.length + this.audienceQueue.length >= this.options.maxQueued) {
        throw new ClientError('stage_busy', `the stage is busy: ${this.presenterQueue.length + this.audienceQueue.length} runs are waiting, try again in a moment`);
      }
    }
    const definition = SCENARIOS[scenario];
    const runtime = request.runtime ?? 'bullmq';
    if (runtime === 'celery' && !definition.celery) throw new ClientError('bad_request', `scenario "${scenario}" runs on BullMQ only`);
    const fault = request.fault ?? definition.defaults.fault;
    if (!(runtime === 'celery' ? CeleryFaultName : FaultName).safeParse(fault).success) {
      throw new ClientError('bad_request', `fault "${fault}" is not a fault of the ${runtime} runtime`);
    }
    const options = { release: request.release ?? definition.defaults.release, fault, runtime };
    if (!(definition.releases ?? ['naive', 'lua']).includes(options.release)) {
      throw new ClientError('bad_request', `${scenario} plays the ${(definition.releases ?? ['naive', 'lua']).join(' or ')} release, not "${options.release}"`);
    }
    const id = `run-${Date.now().toString(36)}-${randomBytes(3).toString('hex')}`;
    const recorder = new RunRecorder(id, scenario, options.release, options.fault, definition.pool, runtime);
    recorder.on('event', (event) => this.announce(recorder.record, () => this.emit('event', { runId: id, scenario, event })));
    recorder.add({
      lane: 'server',
      kind: 'queued',
      text: `${definition.title} — ${runtime === 'celery' ? 'on Celery, ' : ''}release: ${options.release}, fault: ${options.fault}`,
      data: { scenario, title: definition.title, release: options.release, fault: options.fault, runtime },
    });
    const play = async () => {
      const summary = recorder.summary();
      this.announce(recorder.record, () => this.emit('started', summary));
      try {
        const mechanism = await definition.play(this.ctx, recorder, options);
        if (this.closedBecause) throw new Error(`cut short: ${this.closedBecause}`);
        if (recorder.record.status !== 'running') return; // failed meanwhile (Redis went away) and announced then
        recorder.finish(await this.ctx.pools.snapshot(definition.pool), mechanism);
      } catch (error) {
        if (recorder.record.status !== 'running') return; // cut short by shutdown() and announced there
        if (this.closedBecause) {
          this.ctx.log.info('run in flight cut short', { runId: id, scenario, reason: this.closedBecause });
          recorder.fail(new Error(`cut short: ${this.closedBecause}`));
        } else {
          this.ctx.log.error('scenario run failed', { runId: id, scenario, error: String(error) });
          recorder.fail(error);
        }
      }
    };
    const queued: QueuedRun = { recorder, play, session: from.presenter ? null : from.session };
    if (from.presenter) {
      this.presenterQueue.push(queued);
      // The audience is shed first: the newest audience run makes room for the presenter's.
      if (this.presenterQueue.length + this.audienceQueue.length > this.options.maxQueued) {
        const shed = this.audienceQueue.pop();
        if (shed) this.cancel(shed, 'the presenter started a run: audience runs make room');
      }
    } else {
      this.audienceQueue.push(queued);
    }
    this.playNext();
    const summary = recorder.summary();
    await this.store.save(recorder.record);
    return summary;
  }

  /** A run's record as Redis holds it, from whichever instance played it. */
  get(id: string): Promise<RunRecord | undefined> {
    return this.store.get(id);
  }

  /** The latest run of each scenario: what a viewer who joins late should see. */
  latestRuns(): Promise<RunRecord[]> {
    return this.store.latest();
  }

  /** Resolves when every queued run has finished. */
  async idle(): Promise<void> {
    while (this.playing || this.presenterQueue.length + this.audienceQueue.length > 0) await this.tail;
  }

  /** How many runs wait behind the one playing. */
  get waiting(): number {
    return this.presenterQueue.length + this.audienceQueue.length;
  }

  /** Starts the next run when the stage is free: the presenter's first, then the audience's in order. */
  private playNext(): void {
    if (this.playing || this.closedBecause) return;
    const next = this.presenterQueue.shift() ?? this.audienceQueue.shift();
    if (!next) return;
    this.playing = next.recorder;
    // On a later turn: the caller that queued it gets its summary (and stores its record) first.
    this.tail = Promise.resolve().then(next.play).then(async () => {
      this.playing = null;
      await this.store.save(next.recorder.record);
      this.emit('finished', next.recorder.record);
      this.playNext();
    });
  }

  /** A queued run that will not play: failed, saying why, and announced. */
  private cancel(queued: QueuedRun, reason: string): void {
    const { recorder } = queued;
    recorder.fail(new Error(`cancelled before it started: ${reason}`));
    this.ctx.log.info('queued run cancelled', { runId: recorder.record.id, scenario: recorder.record.scenario, reason });
    this.announce(recorder.record, () => this.emit('finished', recorder.record));
  }

  /** The run playing can no longer be judged (say Redis went away under it): failed now, saying why. */
  failRunInFlight(reason: string): void {
    const playing = this.playing;
    if (!playing || playing.record.status !== 'running') return;
    playing.fail(new Error(reason));
    this.ctx.log.warn('run in flight failed', { runId: playing.record.id, reason });
    this.announce(playing.record, () => this.emit('finished', playing.record));
  }

  /**
   * A run another instance owned and can no longer end (it stopped answering): failed
   * now, saying why, stored and announced, unless it ended meanwhile.
   */
  async failOrphan(runId: string, reason: string): Promise<void> {
    const stored = await this.store.get(runId);
    if (!stored || stored.status !== 'running') return;
    const recorder = RunRecorder.resume(stored);
    recorder.fail(new Error(reason));
    await this.store.save(recorder.record, 'ended elsewhere');
    this.emit('finished', recorder.record);
  }

  /**
   * Stops for good: every queued run is cancelled at once (failed, saying why),
   * no new run starts, and `stopInFlight` (closing the task runtime) cuts the run
   * playing short. That run is marked failed after `graceMs` if it has not ended.
   */
  async shutdown(reason: string, stopInFlight: () => Promise<void>, graceMs: number): Promise<void> {
    this.closedBecause = reason;
    for (const queued of [...this.presenterQueue.splice(0), ...this.audienceQueue.splice(0)]) this.cancel(queued, reason);
    await stopInFlight();
    let timer: NodeJS.Timeout | undefined;
    const ended = await Promise.race([
      this.tail.then(() => true),
      new Promise<false>((resolve) => (timer = setTimeout(() => resolve(false), graceMs))),
    ]);
    clearTimeout(timer);
    if (!ended) this.failRunInFlight(`cut short: ${reason}`);
    await this.store.settled();
  }

  /** Tells viewers of a change once the record holding it is stored: what a viewer saw, any instance can read. */
  private announce(record: RunRecord, emit: () => void): void {
    void this.store.save(record).then(emit);
  }
}
