/**
 * The checked-in recordings (slides/recordings/, written by `npm run record`):
 * each is valid against its schema, listed in the index, stamped, and its
 * verdict follows from its own events: the invariant checker, run again on every
 * snapshot a step judged, agrees with what the step recorded, and the run's
 * verdict derived again from the events agrees with the recorded one. A
 * tampered recording is caught.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { RecordingIndexSchema, RecordingSchema, type Recording, type RunRecording } from '../../server/recording/format.ts';
import { recheckRun } from '../../server/scenarios/runVerdict.ts';

const DIR = fileURLToPath(new URL('../../slides/recordings/', import.meta.url));
const read = (file: string): unknown => JSON.parse(readFileSync(`${DIR}${file}`, 'utf8'));
const index = RecordingIndexSchema.parse(read('index.json'));
const recordings = new Map<string, Recording>(index.recordings.map((entry) => [entry.file, RecordingSchema.parse(read(entry.file))]));
const runs = [...recordings.values()].filter((r): r is RunRecording => r.kind === 'run');
// BullMQ's recordings: the panels' own; Celery's are the "Does Celery really do that?" rows.
const runOf = (scenario: string, fault?: string) =>
  runs.find((r) => r.run.scenario === scenario && (r.run.runtime ?? 'bullmq') === 'bullmq' && (!fault || r.run.fault === fault));

test('every recording is listed, valid, and stamped with its date and the versions that played it', () => {
  const onDisk = readdirSync(DIR).filter((name) => name.endsWith('.json') && name !== 'index.json').sort();
  assert.deepEqual(onDisk, [...recordings.keys()].sort(), 'the index lists exactly the files there are');
  for (const [file, recording] of recordings) {
    // Recorded in one go with the index, or added later on their own (`npm run record -- --celery`): the entry says when.
    assert.equal(recording.recordedAt, index.recordings.find((entry) => entry.file === file)?.recordedAt, file);
    assert.deepEqual(recording.versions, index.versions, file);
    assert.match(recording.versions.redis, /^\d+\.\d+\.\d+/);
    assert.match(recording.versions.bullmq, /^\d+\.\d+\.\d+/);
    assert.match(recording.versions.node, /^v\d+\./);
  }
});

test("every panel's scenarios are recorded", () => {
  for (const fault of ['result-unstorable', 'worker-killed', 'lock-lost', 'worker-killed-fail', 'lock-lost-fail']) {
    assert.ok(runOf('innocent-pattern', fault), `Act 1 under ${fault}`);
  }
  for (const scenario of ['attempt-1', 'attempt-2', 'attempt-3']) assert.ok(runOf(scenario, 'worker-killed'), scenario);
  for (const scenario of ['ttl-safety-net', 'atomic-allocation', 'edge-case-test']) assert.ok(runOf(scenario), scenario);
  const session = [...recordings.values()].find((r) => r.kind === 'pool-session');
  assert.ok(session?.kind === 'pool-session', "the Lua slide's clicks");
  assert.deepEqual(session.clicks.map((click) => click.request), ['allocate', 'release', 'allocate', 'double-release']);
});

test('every run recording is finished and its verdict follows from its own events', () => {
  assert.ok(runs.length >= 10);
  for (const { run } of runs) {
    assert.equal(run.status, 'finished', run.id);
    assert.deepEqual(recheckRun(run), [], `${run.scenario} (${run.fault})`);
  }
});

test("what the talk claims is in the recordings: Redis' already_in_pool, the leak, the duplicate", () => {
  const statuses = (recording: RunRecording | undefined) => recording?.run.events.flatMap((e) => (e.kind === 'release-reply' ? [e.data.status] : [])) ?? [];
  assert.ok(statuses(runOf('attempt-3', 'worker-killed')).includes('already_in_pool'));
  assert.equal(runOf('attempt-3', 'worker-killed')?.run.verdict?.kind, 'sound');
  assert.equal(runOf('attempt-1', 'worker-killed')?.run.verdict?.kind, 'leak');
  assert.equal(runOf('attempt-2', 'worker-killed')?.run.verdict?.kind, 'duplicate');
  const session = [...recordings.values()].find((r) => r.kind === 'pool-session');
  assert.ok(session?.kind === 'pool-session');
  const double = session.clicks.find((click) => click.request === 'double-release');
  assert.deepEqual(double?.request === 'double-release' ? double.reply.map((r) => r.status) : [], ['released', 'already_in_pool']);
});

test('a tampered recording is caught', () => {
  const original = runOf('attempt-2', 'worker-killed')!;
  // A verdict that says sound where the events say duplicate.
  const whitewashed = structuredClone(original);
  whitewashed.run.verdict = { ...whitewashed.run.verdict!, sound: true, kind: 'sound', problems: [] };
  assert.ok(RecordingSchema.safeParse(whitewashed).success, 'still valid by its shape');
  assert.notDeepEqual(recheckRun(whitewashed.run), [], 'but not by its events');
  // A step's snapshot edited to hide the duplicate.
  const edited = structuredClone(original);
  const check = edited.run.events.find((e) => e.kind === 'invariant' && e.data.verdict.duplicated > 0);
  assert.ok(check?.kind === 'invariant');
  check.data.snapshot.available = [...new Set(check.data.snapshot.available)];
  assert.notDeepEqual(recheckRun(edited.run), []);
  // A reply that no longer says which callback made it.
  const anonymous = structuredClone(original) as unknown as { run: { events: { kind: string; data: Record<string, unknown> }[] } };
  const reply = anonymous.run.events.find((e) => e.kind === 'release-reply');
  assert.ok(reply);
  delete reply.data.callback;
  assert.ok(!RecordingSchema.safeParse(anonymous).success);
});
