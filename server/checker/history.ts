/**
 * A pool's history: every operation made against one pool, in the order Redis
 * ran them, each with the reply Redis gave. Plain JSON, so a history can be
 * written to a file, sent over a socket, replayed, and checked offline
 * (`npm run check -- history.json`).
 *
 * Order: `seq` comes from Redis itself. Each operation runs in a MULTI with an
 * INCR of the pool's `history-seq` key (same hash tag), so seq is the position
 * at which Redis executed it, whatever connection sent it and whenever its reply
 * arrived. Events that happen outside Redis (a callback fired, a worker died, an
 * expiry was reported) take a seq from the same counter when they are recorded.
 *
 * Format version 1:
 *
 *   { "format": "idem-pool-history", "formatVersion": 1,
 *     "pool": "main", "executors": ["executor-1", ...], "release": "fenced",
 *     "operations": [
 *       { "seq": 1, "at": 1764170000000, "op": "allocate", "evalId": "e-1", "ttlMs": 30000,
 *         "reply": ["{\"url\":\"executor-1\"}", "", 7] },
 *       { "seq": 2, "at": ..., "op": "callback", "evalId": "e-1", "callback": "link", "executor": "executor-1" },
 *       { "seq": 3, "at": ..., "op": "release", "evalId": "e-1", "callback": "link", "executor": "executor-1",
 *         "variant": "fenced", "token": 7, "reply": ["released"] },
 *       { "seq": 9, "at": ..., "op": "crash", "evalId": "e-4", "executor": "executor-2", "markerTtlMs": 150 },
 *       { "seq": 12, "at": ..., "op": "expiry", "executor": "executor-2" },
 *       { "seq": 13, "at": ..., "op": "reclaim", "via": "expiry", "reply": ["executor-2"] },
 *       { "seq": 40, "at": ..., "op": "quiet", "available": ["executor-2", "executor-1"], "busy": {} } ] }
 */
import { z } from 'zod';

export const HISTORY_FORMAT = 'idem-pool-history';
export const HISTORY_FORMAT_VERSION = 1;

const Seq = z.number().int().min(1);
const At = z.number();
const Name = z.string().min(1).max(200);
const Variant = z.enum(['naive', 'lua', 'fenced']);

/** The allocation script's reply: [entry, previous marker ("" when none), token], or null when the pool was empty. */
const AllocateOp = z.strictObject({
  seq: Seq, at: At, op: z.literal('allocate'), evalId: Name, ttlMs: z.number().int().min(1),
  reply: z.tuple([z.string(), z.string(), z.number().int()]).nullable(),
});
/**
 * A release, with its reply as Redis gave it:
 *  - lua (the talk's script): [was_busy, added, status, now_ms, previous_release_ms]
 *  - naive (DEL + LPUSH): [DEL's count, the list's length after LPUSH]
 *  - fenced: ["released"] or ["stale_release", held_token] (lua/release_executor_fenced-2.lua)
 */
const ReleaseOp = z.strictObject({
  seq: Seq, at: At, op: z.literal('release'), evalId: Name, executor: Name, callback: Name,
  variant: Variant, token: z.number().int().nullable(), reply: z.array(z.union([z.number(), z.string()])),
});
/** A callback fired: the eval's task is over, so it no longer runs on its executor (its first callback says so). */
const CallbackOp = z.strictObject({ seq: Seq, at: At, op: z.literal('callback'), evalId: Name, callback: Name, executor: Name });
/**
 * The eval's worker was killed: the eval is gone, and none of its callbacks will run.
 * `markerTtlMs`: the executor's busy marker was set to expire that long after the kill
 * (in the same transaction), when a test compresses a long TTL into a short wait.
 */
const CrashOp = z.strictObject({ seq: Seq, at: At, op: z.literal('crash'), evalId: Name, executor: Name, markerTtlMs: z.number().int().min(1).optional() });
/** Redis reported that the executor's busy marker expired (TTL run out). */
const ExpiryOp = z.strictObject({ seq: Seq, at: At, op: z.literal('expiry'), executor: Name });
/** The reaper ran (lua/reclaim_executors.lua); reply: the executors it put back. */
const ReclaimOp = z.strictObject({ seq: Seq, at: At, op: z.literal('reclaim'), via: z.enum(['expiry', 'sweep']), reply: z.array(Name) });
/** The pool read once everything settled and every TTL ran: the available list, head first, and the busy markers' owners. */
const QuietOp = z.strictObject({ seq: Seq, at: At, op: z.literal('quiet'), available: z.array(Name), busy: z.record(z.string(), z.string()) });

export const HistoryOperation = z.discriminatedUnion('op', [AllocateOp, ReleaseOp, CallbackOp, CrashOp, ExpiryOp, ReclaimOp, QuietOp]);
export type HistoryOperation = z.infer<typeof HistoryOperation>;
export type OperationOf<K extends HistoryOperation['op']> = Extract<HistoryOperation, { op: K }>;

export const PoolHistory = z.strictObject({
  format: z.literal(HISTORY_FORMAT),
  formatVersion: z.literal(HISTORY_FORMAT_VERSION),
  pool: Name,
  /** The pool's executors; the history starts from a fresh pool, all of them available, none busy. */
  executors: z.array(Name).min(1),
  /** The available list at the start, head first; default: a fresh reset's, the executors in reverse (executor-1 is handed out first). */
  available: z.array(Name).optional(),
  /** The release the evals used (what produced the history; the checker reads each operation's own variant). */
  release: Variant,
  operations: z.array(HistoryOperation),
});
export type PoolHistory = z.infer<typeof PoolHistory>;

/** Parses a history from JSON text (e.g. a file); throws with the schema's message when it is not one. */
export function parseHistory(json: string): PoolHistory {
  return PoolHistory.parse(JSON.parse(json));
}
