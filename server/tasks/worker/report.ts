/**
 * What a worker process says to the runtime over the fork's IPC channel, and its
 * timeline events: each with the run and job it belongs to, the lane (process)
 * it happened in, and when.
 */
import type { Job } from 'bullmq';
import type { ChildMessage, JobRef } from '../ipc.ts';
import type { QueueName } from '../queues.ts';
import type { TimelineEntry } from '../types.ts';

/** The lane of `link` cleanup jobs, whichever worker process runs them. */
export const CLEANUP_LANE = 'cleanup-job';

export function send(message: ChildMessage): void {
  if (process.connected) process.send?.(message);
}

export function jobRef(queue: QueueName, job: Job): JobRef {
  return { queue, jobId: String(job.id) };
}

/** Where and when an event happened, when not this process' lane, now. */
export interface EventPlace {
  lane?: string;
  /** null: Redis itself. */
  pid?: number | null;
  at?: number;
}

export type ReportEvent = (runId: string | null, job: JobRef | null, entry: TimelineEntry, place?: EventPlace) => void;

/** Sends one timeline event to the runtime. */
export const reportEvent: ReportEvent = (runId, job, entry, place = {}) => {
  send({
    type: 'event',
    runId,
    job,
    entry,
    at: place.at ?? Date.now(),
    ...(place.lane ? { lane: place.lane } : {}),
    ...(place.pid !== undefined ? { pid: place.pid } : {}),
  });
};
