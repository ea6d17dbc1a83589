/**
 * What `npm run record` writes to slides/recordings/ and the deck replays when no
 * server answers: real runs, each file stamped with when it was recorded and the
 * versions of Redis, BullMQ and Node that played it. Schemas, so a recording can
 * be checked (tests/unit/recordings.test.ts) before anyone trusts it.
 *
 * Two kinds of file:
 *  - `run`: one scenario run's record (its timeline, pools, verdict), and every
 *    message the server pushed to the run's pool room while it played;
 *  - `pool-session`: clicks on a pool (allocate, release once, double release)
 *    with Redis' replies, and every message the pool room got meanwhile.
 * `index.json` lists them, so the deck knows what exists without guessing names.
 */
import { z } from 'zod';
import {
  AllocateReplySchema,
  AnyFaultName,
  RuntimeName,
  PoolSnapshotSchema,
  ReleaseReplySchema,
  RunRecordSchema,
  ScenarioName,
  type DoubleReleaseWarning,
  type PoolAction,
  type PoolChange,
} from '../protocol.ts';

export const RECORDING_FORMAT_VERSION = 1;

const PoolActionSchema = z.discriminatedUnion('kind', [
  z.strictObject({ kind: z.literal('allocated'), pool: z.string(), allocation: AllocateReplySchema, at: z.number() }),
  z.strictObject({ kind: z.literal('released'), pool: z.string(), releases: z.array(ReleaseReplySchema), at: z.number() }),
  z.strictObject({ kind: z.literal('reset'), pool: z.string(), size: z.number().int(), at: z.number() }),
]) satisfies z.ZodType<PoolAction>;

const DoubleReleaseWarningSchema = z.strictObject({
  message: z.literal('Double release detected'),
  pool: z.string(),
  executor: z.string(),
  sinceLastReleaseMs: z.number(),
  at: z.number(),
}) satisfies z.ZodType<DoubleReleaseWarning>;

const PoolChangeSchema = PoolSnapshotSchema.extend({
  actions: z.array(PoolActionSchema),
  doubleReleases: z.array(DoubleReleaseWarningSchema),
}) satisfies z.ZodType<PoolChange>;

/** One message the server pushed to a pool's room, and when the recorder received it (epoch ms). */
export const PoolMessageSchema = z.strictObject({ at: z.number(), event: z.literal('pool:changed'), change: PoolChangeSchema });
export type PoolMessage = z.infer<typeof PoolMessageSchema>;

const Stamp = {
  formatVersion: z.literal(RECORDING_FORMAT_VERSION),
  /** ISO date-time of the recording. */
  recordedAt: z.iso.datetime(),
  versions: z.strictObject({ redis: z.string(), bullmq: z.string(), node: z.string() }),
};

export const RunRecordingSchema = z.strictObject({
  ...Stamp,
  kind: z.literal('run'),
  run: RunRecordSchema,
  /** What the run's pool room received while the run played. */
  poolMessages: z.array(PoolMessageSchema),
});
export type RunRecording = z.infer<typeof RunRecordingSchema>;

/** One click of the session: what was asked, and Redis' reply as the server acknowledged it. */
export const PoolClickSchema = z.discriminatedUnion('request', [
  z.strictObject({ at: z.number(), request: z.literal('allocate'), evalId: z.string(), reply: AllocateReplySchema }),
  z.strictObject({ at: z.number(), request: z.literal('release'), executor: z.string(), reply: ReleaseReplySchema }),
  z.strictObject({ at: z.number(), request: z.literal('double-release'), executor: z.string(), reply: z.array(ReleaseReplySchema) }),
]);
export type PoolClick = z.infer<typeof PoolClickSchema>;

export const PoolSessionRecordingSchema = z.strictObject({
  ...Stamp,
  kind: z.literal('pool-session'),
  pool: z.string(),
  /** The pool when the session began (the watch's snapshot). */
  before: PoolSnapshotSchema,
  startedAt: z.number(),
  clicks: z.array(PoolClickSchema),
  poolMessages: z.array(PoolMessageSchema),
});
export type PoolSessionRecording = z.infer<typeof PoolSessionRecordingSchema>;

export const RecordingSchema = z.discriminatedUnion('kind', [RunRecordingSchema, PoolSessionRecordingSchema]);
export type Recording = z.infer<typeof RecordingSchema>;

/** An entry of index.json: a file and what it holds. */
export const RecordingEntrySchema = z.discriminatedUnion('kind', [
  z.strictObject({
    kind: z.literal('run'),
    file: z.string(),
    scenario: ScenarioName,
    fault: AnyFaultName,
    /** Absent: BullMQ. */
    runtime: RuntimeName.optional(),
    recordedAt: z.iso.datetime(),
  }),
  z.strictObject({ kind: z.literal('pool-session'), file: z.string(), pool: z.string(), recordedAt: z.iso.datetime() }),
]);
export type RecordingEntry = z.infer<typeof RecordingEntrySchema>;

export const RecordingIndexSchema = z.strictObject({
  formatVersion: z.literal(RECORDING_FORMAT_VERSION),
  recordedAt: z.iso.datetime(),
  versions: Stamp.versions,
  recordings: z.array(RecordingEntrySchema),
});
export type RecordingIndex = z.infer<typeof RecordingIndexSchema>;

/** The file name of a run's recording: one per scenario, fault and runtime (BullMQ's carry none). */
export function runRecordingFile(scenario: string, fault: string, runtime: RuntimeName = 'bullmq'): string {
  return runtime === 'bullmq' ? `${scenario}.${fault}.json` : `${scenario}.${runtime}.${fault}.json`;
}
