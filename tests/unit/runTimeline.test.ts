/**
 * The run panels' pure parts, fed with events shaped like a real run's record
 * (the timeline is drawn from TimelineEvent[] alone, so a replay can use it):
 * lane order and time layout, callbacks paired with Redis' replies, reply tones,
 * verdict words and the /metrics counter.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { ReleaseReply, TimelineEntry, TimelineEvent } from '../../server/protocol.ts';
import { TimelineEventSchema } from '../../server/protocol.ts';
import { layoutTimeline, orderLanes } from '../../demo/timeline.ts';
import { callbackSteps, parseDoubleReleases, replyTone } from '../../demo/runs.ts';

const T0 = 1_795_612_243_055;
let seq = 0;
/** An event of the protocol's union; the schema checks every one the tests build. */
const at = (ms: number, lane: string, entry: TimelineEntry): TimelineEvent =>
  TimelineEventSchema.parse({ seq: ++seq, at: T0 + ms, lane, pid: null, ...entry });
const job = { queue: 'evals', jobId: 'eval-1' };
const reply = (status: ReleaseReply['status'], wasBusy: 0 | 1, added: 0 | 1, tuple: (number | string)[]): ReleaseReply => ({
  executor: 'executor-1',
  wasBusy,
  added,
  status,
  reply: tuple,
  doubleRelease: false,
  sinceLastReleaseMs: null,
});
const started = (callback: 'link' | 'link_error'): TimelineEntry => ({
  kind: 'callback-started',
  text: `${callback} releases executor-1`,
  data: { ...job, callback, pool: 'attempt-3', executor: 'executor-1', release: 'lua' },
});
/** A release's reply; its words deliberately name no callback: the panels must not need them. */
const replied = (callback: 'link' | 'link_error', lane: string, answer: ReleaseReply): TimelineEntry => ({
  kind: 'release-reply',
  text: `reply ${answer.status}`,
  data: { ...answer, ...job, callback, callbackLane: lane, callbackPid: 4242, release: 'lua' },
});
const allocated = (evalId: string, executor: string): TimelineEntry => ({
  kind: 'allocate',
  text: `RPOP for ${evalId}`,
  data: { evalId, executor, ttlSeconds: 600, previousOwner: null, token: 1, reply: [JSON.stringify({ url: executor }), '', 1] },
});
const plain = <K extends 'picked-up' | 'link-dispatched' | 'kill-sent' | 'worker-killed' | 'job-stalled' | 'pool-reset' | 'queued'>(kind: K): TimelineEntry => {
  const data = {
    'picked-up': { ...job, job: 'eval', worker: 'worker-2', attemptsStarted: 1, stalledCounter: 0, deferredFailure: null },
    'link-dispatched': { ...job, linkQueue: 'callbacks', linkJobId: '7' },
    'kill-sent': { lane: 'worker-2', pid: 11, reason: 'fault', queue: 'evals', jobId: 'eval-1', phase: 'after-link-dispatched' },
    'worker-killed': { pid: 11, signal: 'SIGKILL', code: null, requested: true, hadWork: true, phase: 'after-link-dispatched' },
    'job-stalled': { ...job },
    'pool-reset': { pool: 'attempt-3', size: 4 },
    queued: { scenario: 'attempt-3', title: 'Attempt 3', release: 'lua', fault: 'worker-killed' },
  }[kind];
  return { kind, text: kind, data } as TimelineEntry;
};

/** Attempt 3 under `worker-killed`, as recorded: link released, the stall check re-runs the job, link again. */
function killedWorkerRun(): TimelineEvent[] {
  seq = 0;
  return [
    at(0, 'server', plain('queued')),
    at(1500, 'redis', plain('pool-reset')),
    at(1502, 'redis', allocated('eval-a', 'executor-1')),
    at(1510, 'worker-2', plain('picked-up')),
    at(1520, 'worker-2', plain('link-dispatched')),
    at(1521, 'server', plain('kill-sent')),
    at(1523, 'cleanup-job', started('link')),
    at(1528, 'redis', replied('link', 'cleanup-job', reply('released', 1, 1, [1, 1, 'released', T0, -1]))),
    at(1545, 'worker-2', plain('worker-killed')),
    at(3000, 'worker-1', plain('job-stalled')),
    at(3020, 'cleanup-job', started('link')),
    at(3022, 'redis', replied('link', 'cleanup-job', reply('already_in_pool', 0, 0, [0, 0, 'already_in_pool', T0, T0]))),
    ...['n1', 'n2', 'n3', 'n4'].map((id) => at(3300, 'redis', allocated(id, 'executor-2'))),
  ];
}

test('lanes come in reading order, only those that appear', () => {
  assert.deepEqual(orderLanes(['redis', 'worker-2', 'cleanup-job', 'server', 'worker-10', 'worker-1', 'test-runner']), [
    'server',
    'worker-1',
    'worker-2',
    'worker-10',
    'cleanup-job',
    'redis',
    'test-runner',
  ]);
  const layout = layoutTimeline(killedWorkerRun(), { width: 300 });
  assert.deepEqual(layout.lanes, ['server', 'worker-1', 'worker-2', 'cleanup-job', 'redis']);
});

test('x follows time, silences become labelled breaks, the queue wait is not drawn', () => {
  const layout = layoutTimeline(killedWorkerRun(), { width: 300 });
  // Time zero is the first step played (pool-reset at 1500 ms), not the queueing.
  assert.equal(layout.marks[0]?.events[0]?.kind, 'pool-reset');
  assert.equal(layout.spanMs, 3300 - 1500);
  assert.ok(layout.marks.every((mark) => mark.x >= 0 && mark.x <= 1));
  for (let i = 1; i < layout.marks.length; i++) assert.ok(layout.marks[i]!.x >= layout.marks[i - 1]!.x, 'never out of order');
  // The stall (1545 → 3000 ms) and the wait before the next allocations are cut short, with their real length.
  assert.deepEqual(
    layout.breaks.map((item) => item.ms),
    [1455, 278],
  );
  // Both replies are in the redis lane, apart.
  const replies = layout.marks.filter((mark) => mark.events[0]!.kind === 'release-reply');
  assert.equal(replies.length, 2);
  assert.ok(replies[1]!.x - replies[0]!.x > 0.05);
});

test('same lane, same kind, same moment: one mark with a count; one lane never overlaps itself', () => {
  const layout = layoutTimeline(killedWorkerRun(), { width: 300, minStep: 10 });
  const grouped = layout.marks.find((mark) => mark.events.length > 1);
  assert.equal(grouped?.events.length, 4);
  assert.equal(grouped?.lane, 'redis');
  for (const lane of layout.lanes) {
    const xs = layout.marks.filter((mark) => mark.lane === lane).map((mark) => mark.x * 300);
    for (let i = 1; i < xs.length; i++) assert.ok(xs[i]! - xs[i - 1]! >= 9.99, `${lane}: ${xs.join(', ')}`);
  }
  assert.deepEqual(layoutTimeline([], { width: 300 }), { lanes: [], marks: [], breaks: [], spanMs: 0 });
});

test('each release names its callback and the process it ran in, whatever its words say', () => {
  seq = 0;
  const events = [
    at(0, 'cleanup-job', started('link')),
    at(1, 'worker-1', started('link_error')),
    at(3, 'redis', replied('link', 'cleanup-job', reply('released', 1, 1, [1, 4]))),
    at(4, 'redis', replied('link_error', 'worker-1', reply('released', 0, 1, [0, 5]))),
  ];
  const steps = callbackSteps(events);
  assert.deepEqual(
    steps.map((step) => [step.callback, step.lane, step.tone]),
    [
      ['link', 'cleanup-job', 'released'],
      ['link_error', 'worker-1', 'duplicate'],
    ],
  );
  // The words are for people: rewriting them changes nothing the panels read.
  const reworded = events.map((event) => ({ ...event, text: 'something else entirely' }));
  assert.deepEqual(callbackSteps(reworded).map((step) => [step.callback, step.lane, step.tone]), steps.map((step) => [step.callback, step.lane, step.tone]));
});

test('the schema refuses an event whose data does not fit its kind', () => {
  const good = { seq: 1, at: T0, lane: 'redis', pid: null, ...replied('link', 'cleanup-job', reply('released', 1, 1, [1, 1])) };
  assert.ok(TimelineEventSchema.safeParse(good).success);
  const { callback: _callback, ...noCallback } = good.data as Record<string, unknown>;
  assert.ok(!TimelineEventSchema.safeParse({ ...good, data: noCallback }).success, 'a reply that names no callback');
  assert.ok(!TimelineEventSchema.safeParse({ ...good, kind: 'no-such-kind' }).success, 'an unknown kind');
  assert.ok(!TimelineEventSchema.safeParse({ ...good, kind: 'kill-requested' }).success, "another kind's data");
  assert.ok(!TimelineEventSchema.safeParse({ ...good, data: { ...good.data, extra: 1 } }).success, 'a field the kind does not have');
});

test('reply tones: the naive push of an executor that was not busy is the duplicate', () => {
  assert.equal(replyTone(reply('released', 1, 1, [1, 1, 'released', T0, -1])), 'released');
  assert.equal(replyTone(reply('already_in_pool', 0, 0, [0, 0, 'already_in_pool', T0, T0])), 'already_in_pool');
  assert.equal(replyTone(reply('not_busy', 0, 0, [0, 0, 'not_busy', T0, -1])), 'not_busy');
  assert.equal(replyTone(reply('released', 0, 1, [0, 5])), 'duplicate');
});

test('the double-release counter sums every pool of /metrics', () => {
  const text = [
    '# HELP idem_double_releases_total Two releases of one executor closer together than the double-release window',
    '# TYPE idem_double_releases_total counter',
    'idem_double_releases_total{pool="innocent-pattern"} 2',
    'idem_double_releases_total{pool="main"} 1',
    'idem_releases_total{pool="main",kind="lua",status="released"} 5',
  ].join('\n');
  assert.deepEqual(parseDoubleReleases(text), { total: 3, byPool: { 'innocent-pattern': 2, main: 1 } });
  assert.deepEqual(parseDoubleReleases(''), { total: 0, byPool: {} });
});
