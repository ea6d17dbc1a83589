/**
 * The eval's processor, with the faults that make BullMQ itself run both
 * callbacks of one task (or none): a crash after `link` is out, a result that
 * cannot be stored, an event loop blocked past its lock, a silent crash. A fault
 * strikes a job's first start only; a job BullMQ hands out again runs healthily.
 */
import type { Processor, Queue } from 'bullmq';
import type { EvalJobData, LinkJobData, WorkerConfig } from '../ipc.ts';
import { CALLBACK_QUEUE, type EvalQueueName } from '../queues.ts';
import { jobRef, reportEvent, send } from './report.ts';

export interface EvalProcessorDeps {
  lane: string;
  config: Pick<WorkerConfig, 'blockMs' | 'lockDurationMs'>;
  /** Where `link` is queued as a cleanup job. */
  callbacksQueue: Queue;
  /** This process stops taking cleanup jobs (it is about to be killed). */
  stopTakingCleanupJobs(): Promise<void>;
}

/** Burns CPU without yielding: nothing else in this process runs, lock renewal included. */
function blockEventLoop(ms: number): number {
  const start = Date.now();
  while (Date.now() - start < ms) {
    // busy
  }
  return Date.now() - start;
}

/** Never settles: the process waits here for the supervisor's SIGKILL. */
function hang(): Promise<never> {
  return new Promise<never>(() => {});
}

export function evalProcessor(queue: EvalQueueName, deps: EvalProcessorDeps): Processor<EvalJobData> {
  const { lane, config, callbacksQueue } = deps;
  return async (job) => {
    const data = job.data;
    const ref = jobRef(queue, job);
    const fault = job.attemptsStarted <= 1 ? data.fault : 'none';

    if (fault === 'worker-killed-silent') {
      reportEvent(data.runId, ref, {
        kind: 'kill-requested',
        text: `${lane} is about to crash mid-eval, before dispatching any callback`,
        data: { ...ref, phase: 'before-any-callback' },
      });
      send({ type: 'kill-me', runId: data.runId, job: ref, phase: 'before-any-callback' });
      return hang();
    }
    if (fault === 'task-fails') {
      const error = new Error(`eval ${data.evalId} failed: the executor exited with status 1`);
      reportEvent(data.runId, ref, { kind: 'task-raised', text: `the eval raises: ${error.message}`, data: { ...ref, message: error.message } });
      throw error;
    }
    if (fault === 'lock-lost' || fault === 'lock-lost-fail') {
      reportEvent(data.runId, ref, {
        kind: 'event-loop-blocked',
        text: `${lane} runs a CPU-bound eval that never yields for ${config.blockMs} ms: its ${config.lockDurationMs} ms lock cannot be renewed meanwhile`,
        data: { ...ref, blockMs: config.blockMs, lockDurationMs: config.lockDurationMs },
      });
      blockEventLoop(config.blockMs);
    }
    reportEvent(data.runId, ref, { kind: 'task-ran', text: `the eval of ${data.evalId} ran on ${data.executor}`, data: { ...ref, evalId: data.evalId, executor: data.executor } });

    const crashing = fault === 'worker-killed' || fault === 'worker-killed-fail';
    if (crashing && data.callbacks.link) {
      // The cleanup job must run on a worker that survives: otherwise this very
      // process might take it a millisecond before it is killed.
      await deps.stopTakingCleanupJobs();
      reportEvent(data.runId, ref, { kind: 'cleanup-paused', text: `${lane} stops taking cleanup jobs: it is about to be killed`, data: { ...ref } });
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
      reportEvent(data.runId, ref, {
        kind: 'link-dispatched',
        text: `${lane} queues link as cleanup job ${linkJob.id} on ${CALLBACK_QUEUE}, before the result is stored`,
        data: { ...ref, linkQueue: CALLBACK_QUEUE, linkJobId: String(linkJob.id) },
      });
    }

    if (crashing) {
      const phase = dispatchedLink ? 'after-link-dispatched' : 'before-result-stored';
      reportEvent(data.runId, ref, {
        kind: 'kill-requested',
        text: `${lane} is about to crash: ${dispatchedLink ? 'link is out' : 'no link attached'}, the job is not yet marked done`,
        data: { ...ref, phase },
      });
      send({ type: 'kill-me', runId: data.runId, job: ref, phase });
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
}
