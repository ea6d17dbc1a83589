/**
 * What the runtime and its worker processes say to each other over the fork's
 * IPC channel (JSON serialization), and the data the BullMQ jobs carry.
 */
import type { CallbackName, KillPhase, ReleaseKind, ReleaseReply } from '../protocol.ts';
import type { EvalRunRequest, TimelineEntry } from './types.ts';
import type { QueueName } from './queues.ts';

/** The data of an eval job: the run request, less what cannot leave this process. */
export type EvalJobData = Omit<EvalRunRequest, 'onEvent'>;

/** The data of a `link` cleanup job (queued on the callbacks queue by the eval's processor). */
export interface LinkJobData {
  runId: string;
  evalId: string;
  evalJobId: string;
  pool: string;
  executor: string;
  release: ReleaseKind;
}

export interface WorkerConfig {
  lane: string;
  redisUrl: string;
  /** The BullMQ prefix of this server's queues (see instancePrefix). */
  bullPrefix: string;
  lockDurationMs: number;
  stalledIntervalMs: number;
  /** How long a `lock-lost` processor blocks its event loop. */
  blockMs: number;
  doubleReleaseWindowMs: number;
  busyTtlSeconds: number;
  logLevel: 'debug' | 'info' | 'warn' | 'error';
}

export type ParentMessage = { type: 'start'; config: WorkerConfig } | { type: 'shutdown' };

/** A job of a queue, as the worker saw it. */
export interface JobRef {
  queue: QueueName;
  jobId: string;
}

export type ChildMessage =
  | { type: 'ready' }
  | {
      type: 'event';
      runId: string | null;
      job: JobRef | null;
      /** Defaults to the worker's own lane. */
      lane?: string;
      /** null: Redis itself. Defaults to the worker's pid. */
      pid?: number | null;
      /** The event's kind, words and typed data. */
      entry: TimelineEntry;
      at: number;
    }
  /** A job's processJob started or ended in this process (the whole BullMQ handling, not just the processor). */
  | { type: 'processing'; phase: 'start' | 'end'; runId: string | null; job: JobRef }
  | { type: 'link-dispatched'; runId: string; linkJobId: string }
  /** The eval job reached a final state in this worker. */
  | { type: 'final'; runId: string; job: JobRef; state: 'completed' | 'failed'; reason?: string }
  | { type: 'callback'; phase: 'start'; runId: string; callId: string }
  | {
      type: 'callback';
      phase: 'end';
      runId: string;
      callId: string;
      callback: CallbackName;
      lane: string;
      reply: ReleaseReply | null;
      /** When the reply came back, by this process' clock. */
      at: number;
    }
  /** The fault's checkpoint: kill me now. */
  | { type: 'kill-me'; runId: string; job: JobRef; phase: KillPhase }
  | { type: 'log'; line: string };
