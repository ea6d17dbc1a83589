/**
 * A run's verdict follows from its events: the checks' results (each with the
 * snapshot it judged), conflicts and a failed test. `recheckRun` runs the checker
 * again on every recorded snapshot and derives the verdict again: a record whose
 * verdict does not follow from its events is caught.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { RUN_FORMAT_VERSION, RunRecordSchema, type PoolSnapshot, type RunRecord } from '../../server/protocol.ts';
import { RunRecorder } from '../../server/scenarios/runRecorder.ts';
import { recheckRun } from '../../server/scenarios/runVerdict.ts';

const EXECUTORS = ['executor-1', 'executor-2'];
const snapshot = (available: string[], busy: Record<string, string> = {}): PoolSnapshot => ({
  pool: 'attempt-2',
  available,
  busy,
  busyTtlMs: Object.fromEntries(Object.keys(busy).map((url) => [url, 599_000])),
  executors: EXECUTORS,
  readAt: 1_795_612_243_055,
});

/** Attempt 2's story in miniature: a duplicate in the list, then two evals handed one executor. */
function duplicateRun(): RunRecord {
  const run = new RunRecorder('run-test-dup', 'attempt-2', 'naive', 'worker-killed', 'attempt-2');
  run.add({ lane: 'server', kind: 'queued', text: 'queued', data: { scenario: 'attempt-2', title: 'Attempt 2', release: 'naive', fault: 'worker-killed' } });
  run.setPoolBefore(snapshot(['executor-1', 'executor-2']));
  run.addCheck(snapshot(['executor-2'], { 'executor-1': 'eval-a' }), 'allocation');
  run.addCheck(snapshot(['executor-1', 'executor-1', 'executor-2']), 'the releases', ['eval-a']);
  run.addConflict('executor-1', ['eval-n1', 'eval-n2']);
  return run.finish(snapshot([], { 'executor-1': 'eval-n2', 'executor-2': 'eval-n3' }), 'the test says so');
}

function soundRun(): RunRecord {
  const run = new RunRecorder('run-test-ok', 'attempt-3', 'lua', 'worker-killed', 'attempt-3');
  run.addCheck(snapshot(['executor-2'], { 'executor-1': 'eval-a' }), 'allocation');
  run.addCheck(snapshot(['executor-1', 'executor-2']), 'the releases', ['eval-a']);
  return run.finish(snapshot(['executor-1', 'executor-2']), null);
}

test('the verdict says what kind of broken, from counts and conflicts, and the record is valid', () => {
  const record = duplicateRun();
  assert.equal(record.formatVersion, RUN_FORMAT_VERSION);
  assert.ok(RunRecordSchema.safeParse(JSON.parse(JSON.stringify(record))).success);
  assert.equal(record.verdict?.sound, false);
  assert.equal(record.verdict?.kind, 'duplicate');
  assert.equal(record.verdict?.duplicated, 1, 'the most any check counted, though the final pool has no duplicate');
  assert.equal(record.verdict?.conflicts, 1);
  assert.match(record.verdict?.summary ?? '', /Broken during the run/);
  assert.deepEqual(recheckRun(record), []);

  const sound = soundRun();
  assert.equal(sound.verdict?.kind, 'sound');
  assert.deepEqual(recheckRun(sound), []);
});

test('a leak: an executor still busy for a finished eval', () => {
  const run = new RunRecorder('run-test-leak', 'attempt-1', 'naive', 'worker-killed', 'attempt-1');
  run.addCheck(snapshot(['executor-2'], { 'executor-1': 'eval-a' }), 'eval-a finished', ['eval-a']);
  const record = run.finish(snapshot(['executor-2'], { 'executor-1': 'eval-a' }), null);
  assert.equal(record.verdict?.kind, 'leak');
  assert.deepEqual(recheckRun(record), []);
});

test('a record whose verdict does not follow from its events is caught', () => {
  // The verdict flipped to sound.
  const flipped = structuredClone(duplicateRun());
  flipped.verdict = { ...flipped.verdict!, sound: true, kind: 'sound' };
  assert.match(recheckRun(flipped).join('\n'), /run verdict/);

  // A step's snapshot edited to hide the duplicate, its verdict left as recorded.
  const edited = structuredClone(duplicateRun());
  const check = edited.events.find((event) => event.kind === 'invariant' && !event.data.verdict.sound);
  assert.ok(check?.kind === 'invariant');
  check.data.snapshot = snapshot(['executor-1', 'executor-2']);
  assert.match(recheckRun(edited).join('\n'), /after the releases/);

  // The conflict deleted: the verdict no longer follows.
  const pruned = structuredClone(duplicateRun());
  pruned.events = pruned.events.filter((event) => event.kind !== 'conflict');
  assert.match(recheckRun(pruned).join('\n'), /run verdict/);

  // A sound run made to look broken.
  const smeared = structuredClone(soundRun());
  smeared.verdict = { ...smeared.verdict!, problems: ['executor-1 is lost'] };
  assert.notDeepEqual(recheckRun(smeared), []);
});
