/**
 * A BullMQ Worker that says when BullMQ's whole handling of a job starts and
 * ends (processJob: fetch to moveToCompleted/moveToFailed), and when storing the
 * outcome throws, which the stock events only report as a bare `error`.
 */
import { Worker, type Job, type Processor, type WorkerOptions } from 'bullmq';
import type { QueueName } from '../queues.ts';

export interface TrackHooks {
  started(queue: QueueName, job: Job): void;
  ended(queue: QueueName, job: Job): void;
  completeFailed(queue: QueueName, job: Job, error: Error, result: unknown): void;
  failFailed(queue: QueueName, job: Job, error: Error, cause: Error): void;
}

export class TrackedWorker<D> extends Worker<D> {
  constructor(
    readonly queueName: QueueName,
    processor: Processor<D>,
    options: WorkerOptions,
    private readonly hooks: TrackHooks,
  ) {
    super(queueName, processor, options);
  }

  override async processJob(job: Job<D>, token: string, fetchNextCallback?: () => boolean) {
    this.hooks.started(this.queueName, job);
    try {
      return await super.processJob(job, token, fetchNextCallback);
    } finally {
      this.hooks.ended(this.queueName, job);
    }
  }

  protected override async handleCompleted(
    result: unknown,
    job: Job<D>,
    token: string,
    ...rest: unknown[]
  ): Promise<Job<D>> {
    try {
      return await (super.handleCompleted as (...args: unknown[]) => Promise<Job<D>>).call(this, result, job, token, ...rest);
    } catch (error) {
      this.hooks.completeFailed(this.queueName, job, error as Error, result);
      throw error;
    }
  }

  protected override async handleFailed(err: Error, job: Job<D>, token: string, ...rest: unknown[]): Promise<Job<D>> {
    try {
      return await (super.handleFailed as (...args: unknown[]) => Promise<Job<D>>).call(this, err, job, token, ...rest);
    } catch (error) {
      this.hooks.failFailed(this.queueName, job, error as Error, err);
      throw error;
    }
  }
}
