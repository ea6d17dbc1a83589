/**
 * The run panels' pure parts, fed with events shaped like a real run's record
 * (the timeline is drawn from TimelineEvent[] alone, so a replay can use it):
 * lane order and time layout, callbacks paired with Redis' replies, reply tones,
 * verdict words and the /metrics counter.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { InvariantVerdict, ReleaseReply, TimelineEvent } from '../../server/protocol.ts';
import { layoutTimeline, orderLanes } from '../../demo/timeline.ts';
import { callbackSteps, parseDoubleReleases, replyTone, verdictKind } from '../../demo/runs.ts';

const T0 = 1_795_612_243_055;
let seq = 0;
const at = (ms: number, lane: string, kind: string, text = kind, data?: unknown): TimelineEvent => ({ seq: ++seq, at: T0 + ms, lane, pid: null, kind, text, ...(data === undefined ? {} : { data }) });
const reply = (status: ReleaseReply['status'], wasBusy: 0 | 1, added: 0 | 1, tuple: (number | string)[]): ReleaseReply => ({
  executor: 'executor-1',
  wasBusy,
  added,
  status,
  reply: tuple,
  doubleRelease: false,
  sinceLastReleaseMs: null,
});

/** Attempt 3 under `worker-killed`, as recorded: link released, the stall check re-runs the job, link again. */
function killedWorkerRun(): TimelineEvent[] {
  seq = 0;
  return [
    at(0, 'server', 'queued'),
    at(1500, 'redis', 'pool-reset'),
    at(1502, 'redis', 'allocate', 'RPOP → executor-1', { executor: 'executor-1', evalId: 'eval-a', ttlSeconds: 600 }),
    at(1510, 'worker-2', 'picked-up'),
    at(1520, 'worker-2', 'link-dispatched'),
    at(1521, 'server', 'kill-sent'),
    at(1523, 'cleanup-job', 'callback-started', 'link releases executor-1', { callback: 'link' }),
    at(1528, 'redis', 'release-reply', "link's release: released [1, 1, ...]", reply('released', 1, 1, [1, 1, 'released', T0, -1])),
    at(1545, 'worker-2', 'worker-killed'),
    at(3000, 'worker-1', 'job-stalled'),
    at(3020, 'cleanup-job', 'callback-started', 'link releases executor-1', { callback: 'link' }),
    at(3022, 'redis', 'release-reply', "link's release: already_in_pool [0, 0, ...]", reply('already_in_pool', 0, 0, [0, 0, 'already_in_pool', T0, T0])),
    ...['n1', 'n2', 'n3', 'n4'].map((id) => at(3300, 'redis', 'allocate', `RPOP for ${id}`, { executor: 'executor-2', evalId: id })),
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

test('each release is paired with its callback and the process it ran in', () => {
  seq = 0;
  const events = [
    at(0, 'cleanup-job', 'callback-started', 'link releases', { callback: 'link' }),
    at(1, 'worker-1', 'callback-started', 'link_error releases', { callback: 'link_error' }),
    at(3, 'redis', 'release-reply', "link's release: released [1, 4]", reply('released', 1, 1, [1, 4])),
    at(4, 'redis', 'release-reply', "link_error's release: released [0, 5]", reply('released', 0, 1, [0, 5])),
  ];
  const steps = callbackSteps(events);
  assert.deepEqual(
    steps.map((step) => [step.callback, step.lane, step.tone]),
    [
      ['link', 'cleanup-job', 'released'],
      ['link_error', 'worker-1', 'duplicate'],
    ],
  );
});

test('reply tones: the naive push of an executor that was not busy is the duplicate', () => {
  assert.equal(replyTone(reply('released', 1, 1, [1, 1, 'released', T0, -1])), 'released');
  assert.equal(replyTone(reply('already_in_pool', 0, 0, [0, 0, 'already_in_pool', T0, T0])), 'already_in_pool');
  assert.equal(replyTone(reply('not_busy', 0, 0, [0, 0, 'not_busy', T0, -1])), 'not_busy');
  assert.equal(replyTone(reply('released', 0, 1, [0, 5])), 'duplicate');
});

test("verdict words come from the server's verdict", () => {
  const verdict = (sound: boolean, problems: string[]): InvariantVerdict => ({ sound, summary: '', problems, available: 0, busy: 4, lost: 0, duplicated: 0 });
  assert.equal(verdictKind(verdict(true, [])), 'sound');
  assert.equal(verdictKind(verdict(false, ['executor-1 leaked: still busy for eval-a-60b347, which has finished; only its TTL (599 s) can give it back'])), 'leak');
  assert.equal(
    verdictKind(
      verdict(false, [
        'executor-1 is in the available list 2 times: the next 2 evals can all be handed it',
        'executor-1 handed to eval-n4-3e05c4 and eval-n5-faffd4 at once: two jobs on one executor',
      ]),
    ),
    'duplicate',
  );
  assert.equal(verdictKind(verdict(false, ['something else'])), 'broken');
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
