/**
 * What every eval run keeps, whichever runtime runs it (evalRuntime.ts on BullMQ,
 * celery/celeryRuntime.ts on Celery): its timeline, numbered in the order things
 * happened and handed to the caller's onEvent as they happen; the releases its
 * callbacks made; and its outcome, settled once.
 */
import type { Logger } from '../log.ts';
import type { CallbackRun, EvalRunOutcome, EvalRunRequest, TimelineEntry, TimelineEvent } from './types.ts';

/** Where and when a timeline event happened. */
export interface EventPlace {
  at: number;
  lane: string;
  pid: number | null;
}

export class RunTimeline<Request extends Pick<EvalRunRequest, 'runId' | 'onEvent'>> {
  readonly events: TimelineEvent[] = [];
  readonly callbacks: CallbackRun[] = [];
  outcome: EvalRunOutcome | null = null;
  readonly startedAt = Date.now();
  /** When the latest event was recorded. */
  lastEventAt = Date.now();
  readonly done: Promise<EvalRunOutcome>;
  private resolveDone!: (outcome: EvalRunOutcome) => void;

  constructor(
    readonly request: Request,
    readonly key: string,
    private readonly log: Logger,
  ) {
    this.done = new Promise((resolve) => (this.resolveDone = resolve));
  }

  record(where: EventPlace, entry: TimelineEntry): void {
    const full: TimelineEvent = { seq: this.events.length + 1, ...where, ...entry };
    this.events.push(full);
    this.lastEventAt = Date.now();
    try {
      this.request.onEvent?.(full);
    } catch (error) {
      this.log.warn('onEvent threw', { runId: this.request.runId, error: String(error) });
    }
  }

  finish(outcome: EvalRunOutcome): void {
    if (this.outcome) return;
    this.outcome = outcome;
    this.resolveDone(outcome);
  }
}
