/**
 * The task runtime's vocabulary: faults, timeline events, run requests and
 * results. Plain data only, so a run can be sent to a browser and replayed.
 */
import {
  FaultName as FaultNameSchema,
  type CallbackName,
  type EvalRunOutcome,
  type FaultName as ProtocolFaultName,
  type ReleaseKind,
  type ReleaseReply,
  type TimelineEvent,
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

/** The runtime records events of the protocol's one union (server/protocol.ts). */
export type { EvalRunOutcome, TimelineEntry, TimelineEvent, TimelineKind } from '../protocol.ts';

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
  callback: CallbackName;
  lane: Lane;
  pid: number;
  reply: ReleaseReply;
  /** Epoch ms when the reply reached the callback's process. */
  at: number;
}

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
