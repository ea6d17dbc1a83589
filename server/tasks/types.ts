/**
 * The task runtime's vocabulary: faults, timeline events, run requests and
 * results. Plain data only, so a run can be sent to a browser and replayed.
 */
import {
  FaultName as FaultNameSchema,
  type FaultName as ProtocolFaultName,
  type ReleaseKind,
  type ReleaseReply,
  type TimelineEvent as ProtocolTimelineEvent,
} from '../protocol.ts';

/**
 * What to do to one eval run (the one definition is in protocol.ts, as the HTTP
 * API takes it). Every fault that causes a double callback does it through
 * BullMQ's own mechanics (a throwing serializer, a SIGKILL, a blocked event
 * loop); no callback is ever called twice by hand.
 *  - none: healthy, the eval succeeds, `link` is queued and releases once.
 *  - task-fails: healthy failure, the eval raises, `link_error` releases once.
 *  - result-unstorable: `link` is dispatched, then the result cannot be serialized:
 *    moveToCompleted throws, the worker fails the job, `link_error` runs.
 *  - worker-killed: the worker is SIGKILLed after dispatching `link`; the stall
 *    check re-runs the job (maxStalledCount 1): `link` twice.
 *  - worker-killed-fail: the same on a queue whose workers have maxStalledCount 0:
 *    the stalled job is failed, `link` then `link_error`.
 *  - lock-lost: the processor blocks its event loop past its lock; another worker
 *    runs the job again: `link` twice.
 *  - lock-lost-fail: the same on the maxStalledCount 0 queue: `link` then `link_error`.
 *  - worker-killed-silent: the worker is SIGKILLed before dispatching anything, on a
 *    queue nobody checks for stalls: no callback at all.
 */
export type FaultName = ProtocolFaultName;

export const FAULT_NAMES: readonly FaultName[] = FaultNameSchema.options;

/** `server`, `worker-1`, `worker-2`, ... (one per worker process), `cleanup-job`, `redis`. */
export type Lane = string;

export type TimelineKind =
  /** server: the eval job was added to its queue. */
  | 'enqueued'
  /** worker: BullMQ handed the job to this worker (moveToActive). */
  | 'picked-up'
  /** worker: the eval's body finished. */
  | 'task-ran'
  /** worker: the eval's body raised. */
  | 'task-raised'
  /** worker: the processor blocked its own event loop (lock-lost). */
  | 'event-loop-blocked'
  /** worker: the `link` callback was queued as a job of its own. */
  | 'link-dispatched'
  /** worker: what this worker did to stay deterministic before being killed. */
  | 'note'
  /** worker: the processor asked the supervisor to kill it (the fault's checkpoint). */
  | 'kill-requested'
  /** worker: job.moveToCompleted threw (result not stored). */
  | 'store-failed'
  /** worker: job.moveToFailed threw too (the failure could not be stored either). */
  | 'fail-store-failed'
  /** worker: the job's result was stored (moveToCompleted), `completed` event. */
  | 'job-completed'
  /** worker: the job was moved to failed, `failed` event. */
  | 'job-failed'
  /** worker: this worker's stall check moved the job out of active (`stalled` event). */
  | 'job-stalled'
  /** worker: lock renewal failed (`lockRenewalFailed`). */
  | 'lock-renewal-failed'
  /** worker: any other `error` event of a BullMQ worker. */
  | 'worker-error'
  /** worker / cleanup-job: a callback starts releasing the executor. */
  | 'callback-started'
  /** worker / cleanup-job: a callback could not release (an error, not a reply). */
  | 'callback-error'
  /** redis: the release's reply. `data` is the ReleaseReply. */
  | 'release-reply'
  /** server: the supervisor sent SIGKILL. */
  | 'kill-sent'
  /** worker: the worker process died (data: { pid, signal, code }). */
  | 'worker-killed'
  /** worker: a new process took the lane over (data: { pid, previousPid }). */
  | 'worker-restarted'
  /** server: the run is over (data: the outcome). */
  | 'run-finished';

/** A timeline event of the protocol's shape, whose kind is one the runtime records. */
export interface TimelineEvent extends ProtocolTimelineEvent {
  kind: TimelineKind;
}

export interface EvalRunRequest {
  runId: string;
  evalId: string;
  pool: string;
  /** The executor the caller already allocated to this eval. */
  executor: string;
  release: ReleaseKind;
  /** Which callbacks the eval has attached (the talk's attempt 1 attaches linkError only). */
  callbacks: { link: boolean; linkError: boolean };
  fault: FaultName;
  /** Each timeline event, as it happens. Must not throw (errors are logged and ignored). */
  onEvent?(event: TimelineEvent): void;
}

export interface CallbackRun {
  callback: 'link' | 'link_error';
  lane: Lane;
  pid: number;
  reply: ReleaseReply;
  /** Epoch ms when the reply reached the callback's process. */
  at: number;
}

export type EvalRunOutcome = 'completed' | 'failed' | 'lost' | 'timed-out';

export interface EvalRunResult {
  runId: string;
  /** The eval job's final state; `lost` when no worker will ever finish it; `timed-out` when the run hit its deadline. */
  outcome: EvalRunOutcome;
  /** What really happened, in words for the audience, derived from the events BullMQ emitted. */
  mechanism: string;
  /** Every callback that released, in the order Redis executed the releases. */
  callbacks: CallbackRun[];
  events: TimelineEvent[];
  startedAt: number;
  finishedAt: number;
}

export interface WorkerInfo {
  lane: Lane;
  pid: number | null;
  ready: boolean;
}
