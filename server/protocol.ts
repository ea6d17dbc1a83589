/**
 * The one definition of what crosses the wire: HTTP bodies and socket.io events,
 * shared by the server and the browser panels. Schemas validate what comes in;
 * the types of what goes out are derived from the same place.
 */
import { z } from 'zod';
import { PoolHistory } from './checker/history.ts';

// Types the deck reads that are defined beside their codecs: the browser imports them from here, the protocol.
export type { HistoryOperation } from './checker/history.ts';
export type { PoolMessage, PoolSessionRecording, RecordingIndex, RunRecording } from './recording/format.ts';

/** A pool's name: the slide's demo pools are `main`, `attempt-1`, ... */
export const PoolName = z.string().regex(/^[a-z0-9][a-z0-9-]{0,31}$/, 'pool name: 1-32 of a-z, 0-9, -');
export const ExecutorUrl = z.string().min(1).max(200).regex(/^[\w.:/@-]+$/, 'executor url: letters, digits and . : / @ - _ only');
export const EvalId = z.string().min(1).max(100).regex(/^[\w.:-]+$/, 'evalId: letters, digits and . : - _ only');

export const AllocateRequest = z.strictObject({ evalId: EvalId, pool: PoolName.optional() });
/** The fencing token an allocation handed out: only ever grows (see lua/allocate_executor_fenced-3.lua). */
export const FencingToken = z.number().int().min(1).max(Number.MAX_SAFE_INTEGER);
/**
 * With `evalId` and `token` (what the allocation answered): the fenced release, which
 * frees only its owner's executor. Without both: the talk's release.
 */
export const ReleaseRequest = z
  .strictObject({ executor: ExecutorUrl, pool: PoolName.optional(), evalId: EvalId.optional(), token: FencingToken.optional() })
  .refine((request) => (request.evalId === undefined) === (request.token === undefined), {
    message: 'the fenced release takes evalId and token together (the allocation answered both)',
    path: ['token'],
  });
export const ResetRequest = z.strictObject({ size: z.number().int().min(1).max(64).optional(), pool: PoolName.optional() });

export const WatchRequest = z.strictObject({ pool: PoolName.optional() });
export type WatchRequest = z.infer<typeof WatchRequest>;
export type AllocateRequest = z.infer<typeof AllocateRequest>;
export type ReleaseRequest = z.infer<typeof ReleaseRequest>;
export type ResetRequest = z.infer<typeof ResetRequest>;

/** A pool exactly as Redis holds it. */
export const PoolSnapshotSchema = z.strictObject({
  pool: z.string(),
  /** Executor urls in list order, head (LPUSH end) first; a duplicate appears twice. */
  available: z.array(z.string()),
  /** url -> eval id that holds it. */
  busy: z.record(z.string(), z.string()),
  /** url -> milliseconds left on the busy marker's TTL (-1: no TTL). */
  busyTtlMs: z.record(z.string(), z.number()),
  /** url -> the fencing token its busy marker holds (absent for a marker without one). */
  busyToken: z.record(z.string(), z.number()).optional(),
  /** Every executor of the pool, in display order. */
  executors: z.array(z.string()),
  /** Server clock (ms) when read, so a client can count TTLs down. */
  readAt: z.number(),
});
export type PoolSnapshot = z.infer<typeof PoolSnapshotSchema>;

/** `stale_release`: the fenced release refused, the marker is gone or holds another owner's token. */
export const ReleaseStatus = z.enum(['released', 'already_in_pool', 'not_busy', 'stale_release']);
export type ReleaseStatus = z.infer<typeof ReleaseStatus>;

const Bit = z.union([z.literal(0), z.literal(1)]);

/** The release script's reply, as Redis returned it, plus what the server concluded from it. */
export const ReleaseReplySchema = z.strictObject({
  executor: z.string(),
  wasBusy: Bit,
  added: Bit,
  status: ReleaseStatus,
  /**
   * What Redis replied, as it came. The Lua release: [was_busy, added, status, now_ms, previous_release_ms].
   * The naive release (two plain commands): [DEL's count, LPUSH's new list length].
   * The fenced release: ["released"] or ["stale_release", held_token] (Redis answers the first as a bare string);
   * `wasBusy` and `added` are 1 when it released.
   */
  reply: z.array(z.union([z.number(), z.string()])),
  /** Two releases of this executor less than the threshold apart. */
  doubleRelease: z.boolean(),
  /** ms since the previous release of this executor, null when none. */
  sinceLastReleaseMs: z.number().nullable(),
});
export type ReleaseReply = z.infer<typeof ReleaseReplySchema>;

export const AllocateReplySchema = z.strictObject({
  executor: z.string(),
  evalId: z.string(),
  ttlSeconds: z.number(),
  /** Non-null when the executor's marker was still held by another eval: a duplicate handed out twice. */
  previousOwner: z.string().nullable(),
  /** The fencing token of this allocation: larger than every earlier one; the fenced release must present it. */
  token: z.number(),
  /** What the allocation script replied, as it came: [entry, previous_marker ("" when none), token]. */
  reply: z.tuple([z.string(), z.string(), z.number()]),
});
export type AllocateReply = z.infer<typeof AllocateReplySchema>;

/** `stage_busy`: the queue of scenario runs is full (not a viewer's own rate limit). */
export type ErrorCode = 'bad_request' | 'unsupported_media_type' | 'not_found' | 'pool_empty' | 'redis_unavailable' | 'rate_limited' | 'stage_busy' | 'forbidden' | 'internal';

export interface ApiError {
  error: ErrorCode;
  message: string;
}

/** The answer of every acknowledged socket event. */
export type Ack<T> = { ok: true; data: T } | ({ ok: false } & ApiError);

/** What one click changed: carried to every viewer in the next `pool:changed`, so all of them see the same reply. */
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

/**
 * One message per change per tick: the pool as Redis holds it after the change,
 * and what led there since the previous message, in order.
 */
export interface PoolChange extends PoolSnapshot {
  /** The clicks; empty when none changed the pool (an expiry, a run's step, a worker's callback). */
  actions: PoolAction[];
  /** Double releases detected in this pool, whoever released (a click, a worker's callback). */
  doubleReleases: DoubleReleaseWarning[];
}

/** What `checkInvariant` concluded about a pool, in words. */
export const InvariantVerdictSchema = z.strictObject({
  sound: z.boolean(),
  summary: z.string(),
  problems: z.array(z.string()),
  available: z.number().int(),
  busy: z.number().int(),
  lost: z.number().int(),
  duplicated: z.number().int(),
});
export type InvariantVerdict = z.infer<typeof InvariantVerdictSchema>;

// ---- Runs: one demo scenario played for real, recorded as a timeline ----

export const ScenarioName = z.enum([
  'innocent-pattern',
  'attempt-1',
  'attempt-2',
  'attempt-3',
  'ttl-safety-net',
  'atomic-allocation',
  'edge-case-test',
  'late-duplicate',
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

/** `fenced`: the release that takes the allocation's token (lua/release_executor_fenced-2.lua); the late-duplicate scenario plays it. */
export const ReleaseKind = z.enum(['naive', 'lua', 'fenced']);
export type ReleaseKind = z.infer<typeof ReleaseKind>;

/** Which task framework runs the evals: BullMQ workers, or real `celery worker` processes. */
export const RuntimeName = z.enum(['bullmq', 'celery']);
export type RuntimeName = z.infer<typeof RuntimeName>;

/** Faults that make real Celery run both callbacks, or one twice (common/celeryFaults.ts says how). */
export const CeleryFaultName = z.enum([
  'none',
  'task-fails',
  'on-success-raises',
  'result-unstorable',
  'result-too-large',
  'child-killed',
  'worker-killed',
  'worker-killed-dedup',
  'worker-killed-stored',
  'worker-killed-stored-dedup',
  'child-killed-reject',
  'time-limit',
  'time-limit-on-success',
  'visibility-timeout',
  'chain-frozen-v1',
  'chain-frozen-v2',
  'link-v1',
  'result-get',
  'result-get-fails',
]);
export type CeleryFaultName = z.infer<typeof CeleryFaultName>;
/** A fault of either runtime; which runtime a run used says which list it is from. */
export const AnyFaultName = z.union([FaultName, CeleryFaultName]);
export type AnyFaultName = z.infer<typeof AnyFaultName>;

export const StartRunRequest = z.strictObject({ release: ReleaseKind.optional(), fault: AnyFaultName.optional(), runtime: RuntimeName.optional() });
export type StartRunRequest = z.infer<typeof StartRunRequest>;
export const StartRunSocketRequest = StartRunRequest.extend({ scenario: ScenarioName });
export type StartRunSocketRequest = z.infer<typeof StartRunSocketRequest>;
export const RunId = z.string().regex(/^run-[a-z0-9-]{1,64}$/, 'run id: run-…');

// ---- Timeline events: one member per kind, each with its own data ----
//
// To add a kind: add one `eventOf('kind', z.strictObject({...}))` line to `TimelineEventSchema`
// below. TypeScript then asks every emitter of it for that data, and every exhaustive switch
// over kinds for a case. Panels read `data`, never `text` (the text is for people).

/** The fields every event has: its place in the run, when, and which process. */
const eventEnvelope = {
  seq: z.number().int().positive(),
  /** Epoch ms. */
  at: z.number(),
  /** `server`, `worker-1`, `worker-2`, `cleanup-job`, `redis`, `test-runner`. */
  lane: z.string(),
  pid: z.number().int().nullable(),
  /** What happened, in words for people. Nothing reads meaning out of it. */
  text: z.string(),
};

function eventOf<K extends string, D extends z.ZodType>(kind: K, data: D) {
  return z.strictObject({ ...eventEnvelope, kind: z.literal(kind), data });
}

export const CallbackName = z.enum(['link', 'link_error']);
export type CallbackName = z.infer<typeof CallbackName>;

/** When a worker was killed for a fault: what it had done by then. */
export const KillPhase = z.enum([
  /** Mid-task, before dispatching any callback (worker-killed-silent). */
  'before-any-callback',
  /** After queueing `link`, before the result was stored. */
  'after-link-dispatched',
  /** After the task ran, with no `link` attached, before the result was stored. */
  'before-result-stored',
  /** After the result was stored, before the message was acknowledged (Celery, acks_late). */
  'after-result-stored',
]);
export type KillPhase = z.infer<typeof KillPhase>;

export const EvalRunOutcome = z.enum(['completed', 'failed', 'lost', 'timed-out']);
export type EvalRunOutcome = z.infer<typeof EvalRunOutcome>;

/** Which job of which BullMQ queue an event is about. */
const jobOf = { queue: z.string(), jobId: z.string() };

/** How a line of node's test runner (TAP) reads: a passing or failing test, a comment, the warning. */
export const TestLineType = z.enum(['pass', 'fail', 'warning', 'comment', 'plain']);
export type TestLineType = z.infer<typeof TestLineType>;

export const TimelineEventSchema = z.discriminatedUnion('kind', [
  // -- The run, on the server --
  /** The run was accepted; it may wait behind others on the stage. */
  eventOf('queued', z.strictObject({ scenario: ScenarioName, title: z.string(), release: ReleaseKind, fault: AnyFaultName, runtime: RuntimeName.optional() })),
  eventOf('pool-reset', z.strictObject({ pool: z.string(), size: z.number().int() })),
  /** An allocation and the script's reply; `executor` null: the pool was empty. */
  eventOf(
    'allocate',
    z.strictObject({
      evalId: z.string(),
      executor: z.string().nullable(),
      ttlSeconds: z.number().nullable(),
      previousOwner: z.string().nullable(),
      /** The allocation's fencing token; null when the pool was empty. */
      token: z.number().nullable(),
      /** [entry, previous marker, token] as the script replied. */
      reply: z.tuple([z.string(), z.string(), z.number()]).nullable(),
    }),
  ),
  /** One invariant check: the snapshot it judged and the checker's result, so it can be checked again. */
  eventOf('invariant', z.strictObject({ after: z.string(), snapshot: PoolSnapshotSchema, finishedEvals: z.array(z.string()), verdict: InvariantVerdictSchema })),
  /** One executor handed to two evals at once: a problem no snapshot shows. */
  eventOf('conflict', z.strictObject({ executor: z.string(), evals: z.array(z.string()), problem: z.string() })),
  eventOf('eval-finished', z.strictObject({ evalId: z.string(), outcome: EvalRunOutcome, callbacks: z.array(CallbackName) })),
  /** Waiting for a busy marker to expire. */
  eventOf('ttl', z.strictObject({ executor: z.string(), ttlSeconds: z.number() })),
  /** The reaper put an executor back after its busy marker expired. */
  eventOf('reclaimed', z.strictObject({ executor: z.string(), via: z.enum(['expiry', 'sweep']) })),
  eventOf('burst', z.strictObject({ size: z.number().int(), connections: z.number().int() })),
  eventOf('burst-result', z.strictObject({ asked: z.number().int(), granted: z.number().int(), distinct: z.number().int() })),
  eventOf('test-output', z.strictObject({ line: z.string(), lineType: TestLineType })),
  /** A log line the talk's test captured and reported. */
  eventOf('captured-log', z.strictObject({ line: z.string() })),
  eventOf(
    'test-result',
    z.strictObject({
      file: z.string(),
      passed: z.boolean(),
      exitCode: z.number().int().nullable(),
      results: z.array(z.strictObject({ name: z.string(), ok: z.boolean() })),
      capturedLogs: z.array(z.string()),
      /** The problem a failed test is for the run's verdict; null when it passed. */
      problem: z.string().nullable(),
    }),
  ),
  eventOf('error', z.strictObject({ message: z.string() })),

  // -- The late duplicate: evals played by the server, each step a real script call --
  /** An eval's task is over and one of its callbacks fires (the first one ends its use of the executor). */
  eventOf('callback-fired', z.strictObject({ evalId: z.string(), callback: CallbackName, executor: z.string(), first: z.boolean() })),
  /** A callback waits before releasing: it will arrive late. */
  eventOf('late-wait', z.strictObject({ evalId: z.string(), callback: CallbackName, executor: z.string(), delayMs: z.number() })),
  /** A release a callback made, with the release it used, the token it carried and Redis' reply. */
  eventOf(
    'pool-release',
    z.strictObject({ evalId: z.string(), callback: CallbackName, executor: z.string(), release: ReleaseKind, token: z.number().nullable(), reply: ReleaseReplySchema }),
  ),
  /** The run's history (every operation with its reply, in Redis' order) and what the history checker found. */
  eventOf(
    'history-check',
    z.strictObject({
      history: PoolHistory,
      sound: z.boolean(),
      summary: z.string(),
      first: z.strictObject({ rule: z.string(), seq: z.number().int(), executor: z.string().nullable(), message: z.string(), trail: z.array(z.number().int()) }).nullable(),
    }),
  ),

  // -- The task runtime: BullMQ on worker processes --
  eventOf(
    'enqueued',
    z.strictObject({
      ...jobOf,
      evalId: z.string(),
      executor: z.string(),
      fault: AnyFaultName,
      release: ReleaseKind,
      callbacks: z.strictObject({ link: z.boolean(), linkError: z.boolean() }),
    }),
  ),
  /** BullMQ handed a job to a worker (moveToActive): the eval's, or a `link` cleanup job. */
  eventOf(
    'picked-up',
    z.strictObject({
      ...jobOf,
      job: z.enum(['eval', 'cleanup']),
      worker: z.string(),
      attemptsStarted: z.number().int(),
      stalledCounter: z.number().int().nullable(),
      deferredFailure: z.string().nullable(),
    }),
  ),
  eventOf('task-ran', z.strictObject({ ...jobOf, evalId: z.string(), executor: z.string() })),
  eventOf('task-raised', z.strictObject({ ...jobOf, message: z.string() })),
  eventOf('event-loop-blocked', z.strictObject({ ...jobOf, blockMs: z.number(), lockDurationMs: z.number() })),
  /** `link` was queued as a cleanup job of its own, before the result was stored. */
  eventOf('link-dispatched', z.strictObject({ ...jobOf, linkQueue: z.string(), linkJobId: z.string() })),
  /** A worker about to be killed stops taking cleanup jobs, so `link` runs on a survivor. */
  eventOf('cleanup-paused', z.strictObject({ ...jobOf })),
  /** The fault's checkpoint: the worker asks to be killed, at this phase. */
  eventOf('kill-requested', z.strictObject({ ...jobOf, phase: KillPhase })),
  /** The supervisor sent SIGKILL: for a fault (with its phase) or because the run timed out. */
  eventOf(
    'kill-sent',
    z.strictObject({
      lane: z.string(),
      pid: z.number().int(),
      reason: z.enum(['fault', 'timeout']),
      queue: z.string().nullable(),
      jobId: z.string().nullable(),
      phase: KillPhase.nullable(),
    }),
  ),
  /** moveToCompleted threw: the result was not stored. */
  eventOf('store-failed', z.strictObject({ ...jobOf, message: z.string(), lockLost: z.boolean(), unserializable: z.boolean() })),
  /** moveToFailed threw too. */
  eventOf('fail-store-failed', z.strictObject({ ...jobOf, message: z.string(), cause: z.string(), lockLost: z.boolean() })),
  eventOf('job-completed', z.strictObject({ ...jobOf })),
  eventOf('job-failed', z.strictObject({ ...jobOf, reason: z.string() })),
  /** A worker's stall check moved the job out of active. */
  eventOf('job-stalled', z.strictObject({ ...jobOf })),
  eventOf('lock-renewal-failed', z.strictObject({ ...jobOf })),
  eventOf('worker-error', z.strictObject({ queue: z.string(), message: z.string() })),
  /** A callback starts releasing the executor, in the process it runs in (the event's lane). */
  eventOf(
    'callback-started',
    z.strictObject({ ...jobOf, callback: CallbackName, pool: z.string(), executor: z.string(), release: ReleaseKind }),
  ),
  eventOf('callback-error', z.strictObject({ ...jobOf, callback: CallbackName, executor: z.string(), message: z.string() })),
  /** Redis' reply to one release, naming the callback that asked and the process it ran in. */
  eventOf(
    'release-reply',
    ReleaseReplySchema.extend({
      ...jobOf,
      callback: CallbackName,
      callbackLane: z.string(),
      callbackPid: z.number().int(),
      release: ReleaseKind,
    }),
  ),
  /** A worker process died; `phase` when it was killed for a fault. */
  eventOf(
    'worker-killed',
    z.strictObject({
      pid: z.number().int(),
      signal: z.string().nullable(),
      code: z.number().int().nullable(),
      requested: z.boolean(),
      hadWork: z.boolean(),
      phase: KillPhase.nullable(),
    }),
  ),
  eventOf('worker-restarted', z.strictObject({ pid: z.number().int(), previousPid: z.number().int() })),
  eventOf('run-finished', z.strictObject({ outcome: EvalRunOutcome })),

  // -- The Celery runtime: real `celery worker` processes (the kinds above, plus these) --
  /** Celery called `link_error` itself, in this process (new-style errback: request, exc, traceback). */
  eventOf('errback-called', z.strictObject({ ...jobOf, process: z.enum(['pool child', 'worker main process']), exception: z.string() })),
  /** The fault strikes inside the task's own code or hooks: on_success raises or hangs, the body hangs or is slow. */
  eventOf('hook-fault', z.strictObject({ ...jobOf, point: z.enum(['body', 'on_success']), effect: z.enum(['raises', 'hangs', 'slow']) })),
  /** Celery's task_postrun: this process is done with the eval, hooks included. */
  eventOf('task-finished', z.strictObject({ ...jobOf, state: z.string().nullable() })),
  /** A redelivered eval skipped by worker_deduplicate_successful_tasks (the backend said SUCCESS). */
  eventOf('deduplicated', z.strictObject({ ...jobOf })),
  /** The Celery workers restart to change a worker setting. */
  eventOf('workers-restarting', z.strictObject({ deduplicate: z.boolean() })),
  /**
   * The server restarts one idle worker on purpose while the eval runs (warm shutdown, then a new `celery worker`),
   * as a deploy or a scale-up would: the eval's message has been unacknowledged for longer than the visibility
   * timeout (`unackedMs` since the eval said it is slow, a lower bound). The event's lane and pid are the worker's
   * before the restart.
   */
  eventOf('worker-restarting', z.strictObject({ ...jobOf, visibilityTimeoutSeconds: z.number(), unackedMs: z.number() })),
  /** The eval's message as it was published: its task protocol, how many link and link_error signatures and chain steps it carried. */
  eventOf(
    'eval-message',
    z.strictObject({ ...jobOf, protocol: z.union([z.literal(1), z.literal(2)]), links: z.number().int(), errbacks: z.number().int(), chained: z.number().int() }),
  ),
  /** The client waits on the eval's result with `.get()`: subscribers on the result's pubsub channel, and the state stored then. */
  eventOf('result-awaited', z.strictObject({ ...jobOf, subscribers: z.number().int(), state: z.string() })),
  /** `.get()` returned: the state it got, after how long, and every state change it read on the way. */
  eventOf('result-received', z.strictObject({ ...jobOf, state: z.string(), ms: z.number(), seen: z.array(z.string()) })),
]);

export type TimelineEvent = z.infer<typeof TimelineEventSchema>;
export type TimelineKind = TimelineEvent['kind'];
export type TimelineEventOf<K extends TimelineKind> = Extract<TimelineEvent, { kind: K }>;
export type TimelineData<K extends TimelineKind> = TimelineEventOf<K>['data'];
/** What an emitter says: a kind, words and that kind's data (the recorder adds seq, time, process). */
export type TimelineEntry = { [K in TimelineKind]: { kind: K; text: string; data: TimelineData<K> } }[TimelineKind];

export const RunStatus = z.enum(['running', 'finished', 'failed']);
export type RunStatus = z.infer<typeof RunStatus>;

/** What went wrong in a run, in one word: from the checks' counts and the conflicts, never from sentences. */
export const VerdictKind = z.enum(['sound', 'leak', 'duplicate', 'broken']);
export type VerdictKind = z.infer<typeof VerdictKind>;

/**
 * A run's verdict: sound only when every step's check was and no conflict or failed
 * test was recorded. Problems are gathered from every step; `duplicated` and `lost`
 * are the most any one check counted; `conflicts`, executors handed to two evals.
 */
export const RunVerdictSchema = InvariantVerdictSchema.extend({ kind: VerdictKind, conflicts: z.number().int() });
export type RunVerdict = z.infer<typeof RunVerdictSchema>;

/** Bumped when a run record's shape changes, so a recording says which shape it has. */
export const RUN_FORMAT_VERSION = 2;

export const RunRecordSchema = z.strictObject({
  formatVersion: z.literal(RUN_FORMAT_VERSION),
  id: z.string(),
  scenario: ScenarioName,
  release: ReleaseKind,
  fault: AnyFaultName,
  /** Absent in runs recorded before there was a choice: BullMQ. */
  runtime: RuntimeName.optional(),
  pool: z.string(),
  status: RunStatus,
  startedAt: z.number(),
  finishedAt: z.number().nullable(),
  /** Which real mechanism fired, in words (e.g. "job stalled: lock expired, moved back to wait"). */
  mechanism: z.string().nullable(),
  events: z.array(TimelineEventSchema),
  poolBefore: PoolSnapshotSchema.nullable(),
  poolAfter: PoolSnapshotSchema.nullable(),
  verdict: RunVerdictSchema.nullable(),
  error: z.string().nullable(),
});
export type RunRecord = z.infer<typeof RunRecordSchema>;

export type RunSummary = Omit<RunRecord, 'events'>;

export interface ServerToClientEvents extends HallServerEvents {
  'pool:changed': (change: PoolChange) => void;
  'run:started': (run: RunSummary) => void;
  'run:event': (update: { runId: string; scenario: ScenarioName; event: TimelineEvent }) => void;
  'run:finished': (run: RunRecord) => void;
  'chaos:changed': (round: ChaosRoundState) => void;
  /** Redis went away (every panel says so) or is back, its pools rebuilt (panels re-read). */
  'redis:state': (state: RedisState) => void;
}

export interface RedisState {
  redis: 'ok' | 'unavailable';
  at: number;
}

export interface ClientToServerEvents extends HallClientEvents {
  // Requests are typed for the panels; the server still parses each one with its schema,
  // because a socket can send anything (and may send no ack function at all).
  'pool:watch': (request: WatchRequest, ack: (result: Ack<PoolSnapshot>) => void) => void;
  'pool:allocate': (request: AllocateRequest, ack: (result: Ack<AllocateReply>) => void) => void;
  'pool:release': (request: ReleaseRequest, ack: (result: Ack<ReleaseReply>) => void) => void;
  'pool:double-release': (request: ReleaseRequest, ack: (result: Ack<ReleaseReply[]>) => void) => void;
  /** Join the runs room; the ack carries the latest run of each scenario, for late joiners. */
  'runs:watch': (request: Record<string, never>, ack: (result: Ack<RunRecord[]>) => void) => void;
  'run:start': (request: StartRunSocketRequest, ack: (result: Ack<RunSummary>) => void) => void;
  'chaos:watch': (request: EmptyRequest, ack: (result: Ack<ChaosWelcome>) => void) => void;
  'chaos:tap': (request: ChaosTapRequest, ack: (result: Ack<ChaosTapReply>) => void) => void;
}

// ---- The hall: one presenter drives the deck, every other viewer follows and fires the opened panels ----

/** The live panels the presenter can open to the audience (their `data-panel` names). */
export const AudiencePanel = z.enum(['lua-release', 'innocent-pattern', 'journey', 'defense', 'edge-case-test', 'late-duplicate']);
export type AudiencePanel = z.infer<typeof AudiencePanel>;

const SlideIndex = z.number().int().min(0).max(999);
/** Where the deck is: reveal's indices (h, v) and fragment (-1: none shown yet). */
export const DeckMoveRequest = z.strictObject({ h: SlideIndex, v: SlideIndex, f: z.number().int().min(-1).max(99) });
export type DeckMoveRequest = z.infer<typeof DeckMoveRequest>;
export const PanelOpenRequest = z.strictObject({ panel: AudiencePanel, open: z.boolean() });
export type PanelOpenRequest = z.infer<typeof PanelOpenRequest>;
/** A fault of the framework the panel's runs play on now (checked against it: server/hall/deckState.ts). */
export const PickFaultRequest = z.strictObject({ panel: AudiencePanel, fault: AnyFaultName });
export type PickFaultRequest = z.infer<typeof PickFaultRequest>;
/** The run panels with a BullMQ/Celery switch: their runs can play on either framework. */
export const RuntimePanel = z.enum(['innocent-pattern', 'journey']);
export type RuntimePanel = z.infer<typeof RuntimePanel>;
export const PickRuntimeRequest = z.strictObject({ panel: RuntimePanel, runtime: RuntimeName });
export type PickRuntimeRequest = z.infer<typeof PickRuntimeRequest>;
/** A viewer says whether it follows, and where it is when it does not. */
export const FollowReport = z.strictObject({ following: z.boolean(), h: SlideIndex, v: SlideIndex });
export type FollowReport = z.infer<typeof FollowReport>;
export const EmptyRequest = z.strictObject({});
export type EmptyRequest = z.infer<typeof EmptyRequest>;
/** `GET /presenter?token=…`: the presenter link. */
export const PresenterQuery = z.object({ token: z.string().min(1).max(200) });

export type Role = 'presenter' | 'viewer';

/** The deck as the presenter left it: one small message per change, numbered. */
export interface DeckState {
  version: number;
  h: number;
  v: number;
  f: number;
  /** Panels the audience may fire. */
  open: AudiencePanel[];
  /** The fault each run panel runs under, as the presenter picked it (a fault of the panel's framework). */
  faults: Partial<Record<AudiencePanel, AnyFaultName>>;
  /** The framework each switchable run panel's runs play on, as the presenter picked it (absent: BullMQ). */
  runtimes: Partial<Record<RuntimePanel, RuntimeName>>;
  /**
   * A talk is live: a presenter window is connected, or a presenter acted, within
   * PRESENTER_IDLE_SECONDS. While none is, every panel is open to everyone (within the
   * limits) and a viewer's run plays the fault and framework the viewer picked.
   */
  live: boolean;
  at: number;
}

/** Where phones join: the join slide's QR code and short URL. */
export interface JoinInfo {
  url: string;
  /** The URL points at this machine only: phones cannot reach it. */
  loopback: boolean;
}

/** People who fired each panel in the last few seconds. */
export type FiringCounts = Partial<Record<AudiencePanel, number>>;

export interface HallWelcome {
  /** For the page's controls only: the server checks the role again on every action. */
  role: Role;
  state: DeckState;
  firing: FiringCounts;
}

/** The presenter console's numbers. */
export interface HallConsole {
  /** Sockets following the hall (one per open page). */
  viewers: number;
  /** Distinct viewer sessions among them. */
  sessions: number;
  following: number;
  /** Where the viewers who stepped away are. */
  awayBySlide: { h: number; v: number; viewers: number }[];
  triggersLastMinute: Partial<Record<AudiencePanel, number>>;
  firing: FiringCounts;
  pools: PoolSnapshot[];
  join: JoinInfo;
  warnings: string[];
  state: DeckState;
  /** How long after the last presenter sign of life no talk is live (the demos open to all). */
  presenterIdleSeconds: number;
}

export interface HallServerEvents {
  'deck:changed': (state: DeckState) => void;
  /** To a presenter window: another presenter window acted after it and now drives the hall. */
  'hall:superseded': (notice: { at: number }) => void;
  'hall:firing': (firing: FiringCounts) => void;
}

export interface HallClientEvents {
  'hall:join': (request: EmptyRequest, ack: (result: Ack<HallWelcome>) => void) => void;
  'hall:follow': (request: FollowReport, ack: (result: Ack<null>) => void) => void;
  // Presenter only:
  'deck:move': (request: DeckMoveRequest, ack: (result: Ack<DeckState>) => void) => void;
  'panel:open': (request: PanelOpenRequest, ack: (result: Ack<DeckState>) => void) => void;
  'panel:pick-fault': (request: PickFaultRequest, ack: (result: Ack<DeckState>) => void) => void;
  'panel:pick-runtime': (request: PickRuntimeRequest, ack: (result: Ack<DeckState>) => void) => void;
  'pool:reset': (request: ResetRequest, ack: (result: Ack<PoolSnapshot>) => void) => void;
  'hall:reset-everything': (request: EmptyRequest, ack: (result: Ack<DeckState>) => void) => void;
  'hall:console': (request: EmptyRequest, ack: (result: Ack<HallConsole>) => void) => void;
}

// ---- The chaos round: every tap of the hall is one eval's life against three pools, one per release ----

export const ChaosVariant = z.enum(['naive', 'lua', 'fenced']);
export type ChaosVariant = z.infer<typeof ChaosVariant>;
export const CHAOS_VARIANTS: readonly ChaosVariant[] = ['naive', 'lua', 'fenced'];
export const ChaosRoundId = z.string().regex(/^r[a-z0-9]{4,16}$/, 'round id: r and 4-16 of a-z, 0-9');
export const OpenChaosRoundRequest = z.strictObject({ seconds: z.number().int().min(3).max(120).default(20) });
export type OpenChaosRoundRequest = z.infer<typeof OpenChaosRoundRequest>;
/** A tap: how long the finger was held (ms) sets the eval's life: work time and how its cleanup is delivered. */
export const ChaosTapRequest = z.strictObject({ roundId: ChaosRoundId, hold: z.number().int().min(0).max(60_000) });
export type ChaosTapRequest = z.infer<typeof ChaosTapRequest>;
/** How an eval's cleanup is delivered: once, twice back to back, or a second time after the executor was handed on. */
export const ChaosDelivery = z.enum(['once', 'double', 'late']);
export type ChaosDelivery = z.infer<typeof ChaosDelivery>;
export type ChaosRoundStatus = 'open' | 'settling' | 'done';

/** One operation of a first violation's trail, as the checker prints it (common/historyText.ts formatOperation). */
export interface ChaosTrailLine {
  seq: number;
  text: string;
  /** The operation's kind and, for a release, the callback that made it (`link`, `link_error`, `link_error-late`). */
  op: string;
  callback: string | null;
}

export interface ChaosViolation {
  rule: string;
  seq: number;
  executor: string | null;
  message: string;
  trail: ChaosTrailLine[];
}

export interface ChaosVariantScore {
  operations: number;
  /** Violations the history checker found in the history so far (live: the prefix Redis has numbered without gaps). */
  violations: number;
  firstViolation: ChaosViolation | null;
}

export interface ChaosRoundState {
  id: string;
  status: ChaosRoundStatus;
  seconds: number;
  openedAt: number;
  /** When taps stop being accepted. */
  closesAt: number;
  /** Distinct viewer sessions that tapped. */
  participants: number;
  taps: number;
  /** Over the last second. */
  tapsPerSecond: number;
  operationsPerSecond: number;
  deliveries: Record<ChaosDelivery, number>;
  variants: Record<ChaosVariant, ChaosVariantScore>;
  /** Seconds since opening, with each variant's operations and violations then: the live chart. */
  series: { t: number; operations: Record<ChaosVariant, number>; violations: Record<ChaosVariant, number> }[];
  /** Where the history is, once the round is done. */
  historyUrl: string | null;
  at: number;
}

export interface ChaosWelcome {
  /** For the page's controls only: the server checks the role again on every action. */
  role: Role;
  round: ChaosRoundState | null;
}

export interface ChaosTapReply {
  tap: number;
  delivery: ChaosDelivery;
}

export interface ChaosRoundOpened {
  id: string;
  round: ChaosRoundState;
}
