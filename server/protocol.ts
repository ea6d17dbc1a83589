/**
 * The one definition of what crosses the wire: HTTP bodies and socket.io events,
 * shared by the server and the browser panels. Schemas validate what comes in;
 * the types of what goes out are derived from the same place.
 */
import { z } from 'zod';

/** A pool's name: the slide's demo pools are `main`, `attempt-1`, ... */
export const PoolName = z.string().regex(/^[a-z0-9][a-z0-9-]{0,31}$/, 'pool name: 1-32 of a-z, 0-9, -');
export const ExecutorUrl = z.string().min(1).max(200).regex(/^[\w.:/@-]+$/, 'executor url: letters, digits and . : / @ - _ only');
export const EvalId = z.string().min(1).max(100).regex(/^[\w.:-]+$/, 'evalId: letters, digits and . : - _ only');

export const AllocateRequest = z.strictObject({ evalId: EvalId, pool: PoolName.optional() });
export const ReleaseRequest = z.strictObject({ executor: ExecutorUrl, pool: PoolName.optional() });
export const ResetRequest = z.strictObject({ size: z.number().int().min(1).max(64).optional(), pool: PoolName.optional() });

export const WatchRequest = z.strictObject({ pool: PoolName.optional() });
export type WatchRequest = z.infer<typeof WatchRequest>;
export type AllocateRequest = z.infer<typeof AllocateRequest>;
export type ReleaseRequest = z.infer<typeof ReleaseRequest>;
export type ResetRequest = z.infer<typeof ResetRequest>;

/** A pool exactly as Redis holds it. */
export interface PoolSnapshot {
  pool: string;
  /** Executor urls in list order, head (LPUSH end) first; a duplicate appears twice. */
  available: string[];
  /** url -> eval id that holds it. */
  busy: Record<string, string>;
  /** url -> milliseconds left on the busy marker's TTL (-1: no TTL). */
  busyTtlMs: Record<string, number>;
  /** Every executor of the pool, in display order. */
  executors: string[];
  /** Server clock (ms) when read, so a client can count TTLs down. */
  readAt: number;
}

export type ReleaseStatus = 'released' | 'already_in_pool' | 'not_busy';

/** The release script's reply, as Redis returned it, plus what the server concluded from it. */
export interface ReleaseReply {
  executor: string;
  wasBusy: 0 | 1;
  added: 0 | 1;
  status: ReleaseStatus;
  /**
   * What Redis replied, as it came. The Lua release: [was_busy, added, status, now_ms, previous_release_ms].
   * The naive release (two plain commands): [DEL's count, LPUSH's new list length].
   */
  reply: (number | string)[];
  /** Two releases of this executor less than the threshold apart. */
  doubleRelease: boolean;
  /** ms since the previous release of this executor, null when none. */
  sinceLastReleaseMs: number | null;
}

export interface AllocateReply {
  executor: string;
  evalId: string;
  ttlSeconds: number;
  /** Non-null when the executor's marker was still held by another eval: a duplicate handed out twice. */
  previousOwner: string | null;
  /** What the allocation script replied, as it came: [entry, previous_owner ("" when none)]. */
  reply: [string, string];
}

export type ErrorCode = 'bad_request' | 'not_found' | 'pool_empty' | 'redis_unavailable' | 'rate_limited' | 'forbidden' | 'internal';

export interface ApiError {
  error: ErrorCode;
  message: string;
}

/** The answer of every acknowledged socket event. */
export type Ack<T> = { ok: true; data: T } | ({ ok: false } & ApiError);

/** What one click changed, broadcast to every viewer so all of them see the same reply. */
export type PoolAction =
  | { kind: 'allocated'; pool: string; allocation: AllocateReply; at: number }
  | { kind: 'released'; pool: string; releases: ReleaseReply[]; at: number }
  | { kind: 'reset'; pool: string; size: number; at: number };

export interface DoubleReleaseWarning {
  message: 'Double release detected';
  pool: string;
  executor: string;
  sinceLastReleaseMs: number;
  at: number;
}

/** What `checkInvariant` concluded about a pool, in words. */
export interface InvariantVerdict {
  sound: boolean;
  summary: string;
  problems: string[];
  available: number;
  busy: number;
  lost: number;
  duplicated: number;
}

// ---- Runs: one demo scenario played for real, recorded as a timeline ----

export const ScenarioName = z.enum([
  'innocent-pattern',
  'attempt-1',
  'attempt-2',
  'attempt-3',
  'ttl-safety-net',
  'atomic-allocation',
  'edge-case-test',
]);
export type ScenarioName = z.infer<typeof ScenarioName>;

/** Faults that make a real queue run both callbacks (or none), on demand. */
export const FaultName = z.enum([
  'none',
  'task-fails',
  'result-unstorable',
  'worker-killed',
  'worker-killed-fail',
  'lock-lost',
  'lock-lost-fail',
  'worker-killed-silent',
]);
export type FaultName = z.infer<typeof FaultName>;

export const ReleaseKind = z.enum(['naive', 'lua']);
export type ReleaseKind = z.infer<typeof ReleaseKind>;

/** Which task framework runs the evals: BullMQ workers, or real `celery worker` processes. */
export const RuntimeName = z.enum(['bullmq', 'celery']);
export type RuntimeName = z.infer<typeof RuntimeName>;

/** Faults that make real Celery run both callbacks, or one twice (server/tasks/celery/faults.ts says how). */
export const CeleryFaultName = z.enum([
  'none',
  'task-fails',
  'on-success-raises',
  'result-unstorable',
  'child-killed',
  'worker-killed',
  'worker-killed-dedup',
  'worker-killed-stored',
  'worker-killed-stored-dedup',
  'child-killed-reject',
  'time-limit',
  'time-limit-on-success',
  'visibility-timeout',
]);
export type CeleryFaultName = z.infer<typeof CeleryFaultName>;
export type AnyFaultName = FaultName | CeleryFaultName;

export const StartRunRequest = z.strictObject({
  release: ReleaseKind.optional(),
  fault: z.union([FaultName, CeleryFaultName]).optional(),
  runtime: RuntimeName.optional(),
});
export type StartRunRequest = z.infer<typeof StartRunRequest>;
export const StartRunSocketRequest = StartRunRequest.extend({ scenario: ScenarioName });
export type StartRunSocketRequest = z.infer<typeof StartRunSocketRequest>;
export const RunId = z.string().regex(/^run-[a-z0-9-]{1,64}$/, 'run id: run-…');

/** One step of a run: who did it, in which process, when, and what Redis replied. Plain JSON, replayable. */
export interface TimelineEvent {
  seq: number;
  /** Epoch ms. */
  at: number;
  /** `server`, `worker-1`, `worker-2`, `cleanup-job`, `redis`. */
  lane: string;
  pid: number | null;
  kind: string;
  text: string;
  data?: unknown;
}

export type RunStatus = 'running' | 'finished' | 'failed';

export interface RunRecord {
  id: string;
  scenario: ScenarioName;
  release: ReleaseKind;
  fault: AnyFaultName;
  runtime: RuntimeName;
  pool: string;
  status: RunStatus;
  startedAt: number;
  finishedAt: number | null;
  /** Which real mechanism fired, in words (e.g. "job stalled: lock expired, moved back to wait"). */
  mechanism: string | null;
  events: TimelineEvent[];
  poolBefore: PoolSnapshot | null;
  poolAfter: PoolSnapshot | null;
  /** Sound only when every step's check was; problems gathered from all steps. */
  verdict: InvariantVerdict | null;
  error: string | null;
}

export type RunSummary = Omit<RunRecord, 'events'>;

export interface ServerToClientEvents {
  'pool:changed': (snapshot: PoolSnapshot) => void;
  'pool:acted': (action: PoolAction) => void;
  'release:double-detected': (warning: DoubleReleaseWarning) => void;
  'run:started': (run: RunSummary) => void;
  'run:event': (update: { runId: string; scenario: ScenarioName; event: TimelineEvent }) => void;
  'run:finished': (run: RunRecord) => void;
}

export interface ClientToServerEvents {
  // Requests are typed for the panels; the server still parses each one with its schema,
  // because a socket can send anything (and may send no ack function at all).
  'pool:watch': (request: WatchRequest, ack: (result: Ack<PoolSnapshot>) => void) => void;
  'pool:allocate': (request: AllocateRequest, ack: (result: Ack<AllocateReply>) => void) => void;
  'pool:release': (request: ReleaseRequest, ack: (result: Ack<ReleaseReply>) => void) => void;
  'pool:double-release': (request: ReleaseRequest, ack: (result: Ack<ReleaseReply[]>) => void) => void;
  /** Join the runs room; the ack carries the latest run of each scenario, for late joiners. */
  'runs:watch': (request: Record<string, never>, ack: (result: Ack<RunRecord[]>) => void) => void;
  'run:start': (request: StartRunSocketRequest, ack: (result: Ack<RunSummary>) => void) => void;
}
