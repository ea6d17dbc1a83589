/**
 * The BullMQ queues of the runtime and the worker settings of each. Worker
 * options such as maxStalledCount are per Worker, so each stall policy gets a
 * queue of its own, and every worker process runs one Worker on each queue.
 */
import type { FaultName } from './types.ts';

/**
 * BullMQ keys are `<prefix>:<queue>:<...>`. The prefix carries the pools' hash
 * tag, so the queues' keys share a cluster slot with the pools and never collide
 * with anyone else's data in a shared Redis.
 */
export const BULL_PREFIX = 'idem:{pool}:bull';

/**
 * The queues of one running server: several servers share one Redis, and each
 * one's worker processes must take only its own evals (the run that queued an eval
 * watches its own workers). A server started afresh gets a fresh namespace, so
 * jobs a crashed server left behind are never picked up, and nothing at start
 * needs to wipe queues another server may be using.
 */
export function instancePrefix(instance: string): string {
  return `${BULL_PREFIX}:${instance}`;
}

export type EvalQueueName = 'evals' | 'evals-strict' | 'evals-unguarded';
export const CALLBACK_QUEUE = 'eval-callbacks';
export type QueueName = EvalQueueName | typeof CALLBACK_QUEUE;

export interface EvalQueuePolicy {
  /** Stall recoveries allowed before BullMQ fails a stalled job. */
  maxStalledCount: number;
  /** No stall check runs for this queue at all. */
  skipStalledCheck: boolean;
  /** For the audience. */
  describe: string;
}

export const EVAL_QUEUES: Record<EvalQueueName, EvalQueuePolicy> = {
  evals: { maxStalledCount: 1, skipStalledCheck: false, describe: 'maxStalledCount 1: a stalled job runs again' },
  'evals-strict': { maxStalledCount: 0, skipStalledCheck: false, describe: 'maxStalledCount 0: a stalled job is failed' },
  'evals-unguarded': { maxStalledCount: 1, skipStalledCheck: true, describe: 'no stall check: a stalled job stays active forever' },
};

export const ALL_QUEUES: QueueName[] = ['evals', 'evals-strict', 'evals-unguarded', CALLBACK_QUEUE];

export function queueForFault(fault: FaultName): EvalQueueName {
  switch (fault) {
    case 'worker-killed-fail':
    case 'lock-lost-fail':
      return 'evals-strict';
    case 'worker-killed-silent':
      return 'evals-unguarded';
    default:
      return 'evals';
  }
}
