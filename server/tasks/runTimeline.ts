/**
 * What every eval run keeps, whichever runtime runs it (evalRuntime.ts on BullMQ,
 * celery/celeryRuntime.ts on Celery): its timeline, numbered in the order things
 * happened and handed to the caller's onEvent as they happen; the releases its
 * callbacks made; and its outcome, settled once.
 */
import type { Logger } from '../log.ts';
import type { CallbackRun, EvalRunOutcome, EvalRunRequest, EvalRunResult, TimelineEntry, TimelineEvent } from './types.ts';

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

  /** Its callbacks' releases in the order Redis ran them. */
  sortedCallbacks(): CallbackRun[] {
    return [...this.callbacks].sort(redisOrder);
  }

  /** The run as its caller gets it, and the one log line that says how it ended. */
  result(outcome: EvalRunOutcome, mechanism: string, about: { runtime: 'eval' | 'celery'; fault: string }): EvalRunResult {
    const callbacks = this.sortedCallbacks();
    this.log.info(`${about.runtime} run finished`, {
      runId: this.request.runId,
      fault: about.fault,
      outcome,
      callbacks: callbacks.map((c) => `${c.callback}:${c.reply.status}`),
      ms: Date.now() - this.startedAt,
    });
    return { runId: this.request.runId, outcome, mechanism, callbacks, events: this.events, startedAt: this.startedAt, finishedAt: Date.now() };
  }

  finish(outcome: EvalRunOutcome): void {
    if (this.outcome) return;
    this.outcome = outcome;
    this.resolveDone(outcome);
  }
}

/**
 * The order in which Redis executed two releases of one executor. The Lua reply
 * carries Redis' clock and the previous release's time (the later of two releases
 * in one millisecond names the earlier one's); the naive one the list length LPUSH
 * returned (the later push sees a longer list). Else: when each reply came back.
 */
export function redisOrder(a: CallbackRun, b: CallbackRun): number {
  const [, , , aNow, aPrevious] = a.reply.reply;
  const [, , , bNow, bPrevious] = b.reply.reply;
  if (typeof aNow === 'number' && typeof bNow === 'number' && typeof aPrevious === 'number' && typeof bPrevious === 'number') {
    return aNow - bNow || aPrevious - bPrevious || a.at - b.at;
  }
  const aLength = a.reply.reply.length === 2 ? a.reply.reply[1] : undefined;
  const bLength = b.reply.reply.length === 2 ? b.reply.reply[1] : undefined;
  if (typeof aLength === 'number' && typeof bLength === 'number' && aLength !== bLength) return aLength - bLength;
  return a.at - b.at;
}
