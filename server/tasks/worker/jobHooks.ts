/**
 * The timeline of BullMQ's handling of each job in this process: picked up (and
 * why again, when it ran before), done, and what BullMQ refused to store.
 */
import type { EvalJobData, LinkJobData } from '../ipc.ts';
import { CALLBACK_QUEUE } from '../queues.ts';
import { CLEANUP_LANE, jobRef, reportEvent, send } from './report.ts';
import type { TrackHooks } from './trackedWorker.ts';

/** BullMQ's words when a worker finishes a job whose lock it no longer holds. */
const LOCK_ERROR = /^(Missing lock|Lock mismatch) for job /;

/**
 * `reported`: errors told here with more context than the bare `error` event
 * BullMQ emits for them too (that one is then not told again).
 */
export function jobHooks(lane: string, reported: WeakSet<Error>): TrackHooks {
  const runOf = (data: unknown) => (data as Partial<EvalJobData>).runId ?? null;
  return {
    started(queue, job) {
      const runId = runOf(job.data);
      const ref = jobRef(queue, job);
      send({ type: 'processing', phase: 'start', runId, job: ref });
      const common = { ...ref, worker: lane, attemptsStarted: job.attemptsStarted, stalledCounter: job.stalledCounter ?? null, deferredFailure: job.deferredFailure ?? null };
      if (queue === CALLBACK_QUEUE) {
        const link = job.data as LinkJobData;
        reportEvent(
          runId,
          ref,
          { kind: 'picked-up', text: `${lane} picks up cleanup job ${job.id} (the link of eval job ${link.evalJobId})`, data: { ...common, job: 'cleanup' } },
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
      reportEvent(runId, ref, { kind: 'picked-up', text: `${lane} picks up eval job ${job.id} from ${queue}${why}`, data: { ...common, job: 'eval' } });
    },
    ended(queue, job) {
      send({ type: 'processing', phase: 'end', runId: runOf(job.data), job: jobRef(queue, job) });
    },
    completeFailed(queue, job, error, result) {
      reported.add(error);
      const lockLost = LOCK_ERROR.test(error.message);
      // BullMQ serializes the result before it talks to Redis: does the result serialize at all?
      let unserializable = false;
      try {
        JSON.stringify(result);
      } catch {
        unserializable = true;
      }
      reportEvent(
        runOf(job.data),
        jobRef(queue, job),
        {
          kind: 'store-failed',
          text: lockLost
            ? `moveToCompleted refused: ${error.message} (${lane} no longer holds the job's lock)`
            : unserializable
              ? `moveToCompleted threw before reaching Redis, serializing the result: ${error.message}`
              : `moveToCompleted threw: ${error.message}`,
          data: { ...jobRef(queue, job), message: error.message, lockLost, unserializable },
        },
        { lane: queue === CALLBACK_QUEUE ? CLEANUP_LANE : lane },
      );
    },
    failFailed(queue, job, error, cause) {
      reported.add(error);
      reportEvent(
        runOf(job.data),
        jobRef(queue, job),
        {
          kind: 'fail-store-failed',
          text: `moveToFailed refused too: ${error.message}`,
          data: { ...jobRef(queue, job), message: error.message, cause: cause.message, lockLost: LOCK_ERROR.test(error.message) },
        },
        { lane: queue === CALLBACK_QUEUE ? CLEANUP_LANE : lane },
      );
    },
  };
}
