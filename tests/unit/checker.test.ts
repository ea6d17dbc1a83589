/**
 * The history checker on hand-written histories: the late duplicate under the
 * talk's release, the fenced release refusing it, the naive release's duplicate,
 * a kill brought back by TTL and reaper, a lost executor, and replies the model
 * cannot explain. Plus the CLI and the format's schema.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { checkHistory, formatViolation } from '../../server/checker/checker.ts';
import { checkFiles } from '../../server/checker/cli.ts';
import { HISTORY_FORMAT, HISTORY_FORMAT_VERSION, PoolHistory, parseHistory, type HistoryOperation } from '../../server/checker/history.ts';

const entry = (url: string) => JSON.stringify({ url });
type Op = HistoryOperation extends infer T ? (T extends unknown ? Omit<T, 'seq' | 'at'> : never) : never;

/** A history of one pool from `ops`, numbered in order, 1 ms apart. */
function history(release: PoolHistory['release'], executors: string[], ops: Op[]): PoolHistory {
  return {
    format: HISTORY_FORMAT,
    formatVersion: HISTORY_FORMAT_VERSION,
    pool: 'p',
    executors,
    release,
    operations: ops.map((op, i) => ({ ...op, seq: i + 1, at: 1_000 + i }) as HistoryOperation),
  };
}

const ONE = ['executor-1'];
const allocate = (evalId: string, url: string | null, token = 1, previous = ''): Op => ({
  op: 'allocate', evalId, ttlMs: 60_000, reply: url ? [entry(url), previous, token] : null,
});
const fired = (evalId: string, callback = 'link', executor = 'executor-1'): Op => ({ op: 'callback', evalId, callback, executor });
const talkRelease = (evalId: string, reply: (number | string)[], callback = 'link', executor = 'executor-1'): Op => ({
  op: 'release', evalId, callback, executor, variant: 'lua', token: null, reply,
});
const fencedRelease = (evalId: string, token: number, reply: (number | string)[], callback = 'link', executor = 'executor-1'): Op => ({
  op: 'release', evalId, callback, executor, variant: 'fenced', token, reply,
});
const quiet = (available: string[], busy: Record<string, string> = {}): Op => ({ op: 'quiet', available, busy });

/** The measured sequence, pool of 1, with the talk's release. */
const talkLateDuplicate = history('lua', ONE, [
  allocate('eval-A', 'executor-1', 1),
  fired('eval-A'),
  talkRelease('eval-A', [1, 1, 'released', 1000, -1]),
  allocate('eval-B', 'executor-1', 2),
  talkRelease('eval-A', [1, 1, 'released', 2500, 1000], 'link_error'),
  allocate('eval-C', 'executor-1', 3),
  fired('eval-B'),
  talkRelease('eval-B', [0, 0, 'already_in_pool', 2600, 2500]),
  fired('eval-C'),
  talkRelease('eval-C', [0, 0, 'already_in_pool', 2700, 2600]),
  quiet(['executor-1']),
]);

test('the late duplicate under the talk\'s release: broken at the late release, then two owners at once', () => {
  const result = checkHistory(talkLateDuplicate);
  assert.equal(result.sound, false);
  assert.equal(result.first?.seq, 5);
  assert.equal(result.first?.rule, 'available-while-running');
  assert.equal(result.first?.executor, 'executor-1');
  assert.match(result.first!.message, /eval-A's release \(link_error, lua\) made executor-1 available while eval-B still runs on it/);
  assert.deepEqual(result.first!.trail.map((op) => op.seq), [1, 2, 3, 4, 5], 'the operations that led to it');
  assert.ok(result.violations.some((v) => v.rule === 'two-owners' && v.seq === 6 && /eval-C while eval-B/.test(v.message)));
  assert.match(formatViolation(result.first!).join('\n'), /#4 allocate eval-B → executor-1 token 2/);
  assert.equal(result.byRule['lost'], undefined, 'and yet the pool looks whole at the end: only the history shows it');
});

test('the same sequence with the fenced release: the late release is stale, sound throughout', () => {
  const result = checkHistory(history('fenced', ONE, [
    allocate('eval-A', 'executor-1', 1),
    fired('eval-A'),
    fencedRelease('eval-A', 1, ['released']),
    allocate('eval-B', 'executor-1', 2),
    fencedRelease('eval-A', 1, ['stale_release', 2], 'link_error'),
    allocate('eval-C', null),
    fired('eval-B'),
    fencedRelease('eval-B', 2, ['released']),
    quiet(['executor-1']),
  ]));
  assert.equal(result.sound, true, result.summary);
  assert.equal(result.first, null);
  assert.match(result.summary, /^Sound: the invariant held after each of 9 operations/);
});

test('the naive release twice: listed twice, then two owners', () => {
  const result = checkHistory(history('naive', ONE, [
    allocate('eval-A', 'executor-1', 1),
    fired('eval-A'),
    { op: 'release', evalId: 'eval-A', callback: 'link', executor: 'executor-1', variant: 'naive', token: null, reply: [1, 1] },
    fired('eval-A', 'link_error'),
    { op: 'release', evalId: 'eval-A', callback: 'link_error', executor: 'executor-1', variant: 'naive', token: null, reply: [0, 2] },
    allocate('eval-B', 'executor-1', 2),
    allocate('eval-C', 'executor-1', 3, 'eval-B@2'),
  ]));
  assert.equal(result.first?.rule, 'listed-twice');
  assert.equal(result.first?.seq, 5);
  assert.ok(result.violations.some((v) => v.rule === 'two-owners' && v.seq === 7));
  assert.ok(!result.violations.some((v) => v.rule === 'unexplained'), JSON.stringify(result.violations));
});

test('a killed worker: the marker expires, the reaper puts the executor back, sound', () => {
  const h = history('fenced', ['executor-1', 'executor-2'], [
    { op: 'allocate', evalId: 'eval-A', ttlMs: 100, reply: [entry('executor-1'), '', 1] },
    { op: 'crash', evalId: 'eval-A', executor: 'executor-1' },
    { op: 'expiry', executor: 'executor-1' },
    { op: 'reclaim', via: 'expiry', reply: ['executor-1'] },
    allocate('eval-B', 'executor-2', 2),
    fired('eval-B', 'link', 'executor-2'),
    fencedRelease('eval-B', 2, ['released'], 'link', 'executor-2'),
    quiet(['executor-2', 'executor-1']),
  ]);
  for (const op of h.operations.slice(2)) op.at += 100; // the TTL ran out
  const result = checkHistory(h);
  assert.equal(result.sound, true, result.summary);
  // A marker found gone before its expiry was reported: the TTL ran out first (no clock here can prove otherwise).
  const early = history('fenced', ['executor-1', 'executor-2'], [allocate('eval-A', 'executor-1', 1), { op: 'crash', evalId: 'eval-A', executor: 'executor-1' }, { op: 'reclaim', via: 'sweep', reply: ['executor-1'] }]);
  assert.equal(checkHistory(early).sound, true, checkHistory(early).summary);
});

test('quiet with an executor neither available nor busy, or still busy: lost', () => {
  const result = checkHistory(history('fenced', ['executor-1', 'executor-2'], [
    allocate('eval-A', 'executor-1', 1),
    { op: 'crash', evalId: 'eval-A', executor: 'executor-1' },
    quiet(['executor-2'], { 'executor-1': 'eval-A' }),
  ]));
  assert.equal(result.first?.rule, 'lost');
  assert.match(result.first!.message, /executor-1 is still busy with eval-A/);
  const gone = checkHistory(history('fenced', ['executor-1', 'executor-2'], [allocate('eval-A', 'executor-1', 1), { op: 'expiry', executor: 'executor-1' }, quiet(['executor-2'])]));
  assert.ok(gone.violations.some((v) => v.rule === 'lost' && /executor-1 is neither available nor busy/.test(v.message)));
});

test('replies the model cannot explain are violations, not silence', () => {
  const cases: Op[][] = [
    [allocate('eval-A', 'executor-9', 1)],
    [allocate('eval-A', null)],
    [allocate('eval-A', 'executor-1', 1), fencedRelease('eval-A', 1, ['released']), fencedRelease('eval-A', 1, ['released'])],
    [allocate('eval-A', 'executor-1', 1), quiet(['executor-2'])],
  ];
  for (const ops of cases) {
    const result = checkHistory(history('fenced', ONE, ops));
    assert.ok(result.violations.some((v) => v.rule === 'unexplained'), JSON.stringify(ops));
  }
});

test('operations are checked in seq order, whatever order the file lists them in', () => {
  const shuffled: PoolHistory = { ...talkLateDuplicate, operations: [...talkLateDuplicate.operations].reverse() };
  assert.deepEqual(checkHistory(shuffled).first, checkHistory(talkLateDuplicate).first);
});

test('the format: a history round-trips through JSON; anything else is refused by its schema', () => {
  assert.deepEqual(parseHistory(JSON.stringify(talkLateDuplicate)), talkLateDuplicate);
  for (const bad of [
    { ...talkLateDuplicate, format: 'other' },
    { ...talkLateDuplicate, formatVersion: 2 },
    { ...talkLateDuplicate, executors: [] },
    { ...talkLateDuplicate, operations: [{ seq: 1, at: 1, op: 'teleport' }] },
    { ...talkLateDuplicate, operations: [{ seq: 0, at: 1, op: 'expiry', executor: 'executor-1' }] },
    { ...talkLateDuplicate, extra: true },
  ]) {
    assert.throws(() => parseHistory(JSON.stringify(bad)), JSON.stringify(bad).slice(0, 80));
  }
});

test('npm run check: exit 0 for a sound history, 1 with the first violation and its trail, 2 for a file that is not one', () => {
  const dir = mkdtempSync(join(tmpdir(), 'histories-'));
  try {
    const broken = join(dir, 'broken.json');
    const sound = join(dir, 'sound.json');
    const junk = join(dir, 'junk.json');
    writeFileSync(broken, JSON.stringify(talkLateDuplicate));
    writeFileSync(sound, JSON.stringify(history('fenced', ONE, [allocate('eval-A', 'executor-1', 1), fired('eval-A'), fencedRelease('eval-A', 1, ['released']), quiet(['executor-1'])])));
    writeFileSync(junk, '{"format":"nope"}');
    const lines: string[] = [];
    assert.equal(checkFiles([sound], (l) => lines.push(l)), 0);
    assert.match(lines.join('\n'), /Sound/);
    lines.length = 0;
    assert.equal(checkFiles([sound, broken], (l) => lines.push(l)), 1);
    assert.match(lines.join('\n'), /seq 5 \[available-while-running\][\s\S]*#3 release executor-1 by eval-A/);
    assert.equal(checkFiles([junk, sound], (l) => lines.push(l)), 2);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a late expiry report of an earlier marker does not end the marker of the executor\'s next owner', () => {
  const ops: Op[] = [
    { op: 'allocate', evalId: 'eval-A', ttlMs: 100, reply: [entry('executor-1'), '', 1] },
    { op: 'crash', evalId: 'eval-A', executor: 'executor-1' },
    { op: 'reclaim', via: 'sweep', reply: ['executor-1'] }, // the sweep saw the marker gone first
    allocate('eval-B', 'executor-1', 2),
    { op: 'expiry', executor: 'executor-1' }, // eval-A's marker's report, arriving late
    fired('eval-B'),
    fencedRelease('eval-B', 2, ['released']),
    quiet(['executor-1']),
  ];
  const h = history('fenced', ONE, ops);
  h.operations[2]!.at = h.operations[0]!.at + 150; // the reclaim came after eval-A's TTL ran out
  for (const op of h.operations.slice(3)) op.at += 150;
  assert.equal(checkHistory(h).sound, true, checkHistory(h).summary);
});

test("a kill that cuts its own marker's TTL: the expiry right after it is that marker's; another eval's kill cuts nothing", () => {
  const h = history('fenced', ONE, [
    allocate('eval-A', 'executor-1', 1), // 60 s TTL
    { op: 'crash', evalId: 'eval-A', executor: 'executor-1', markerTtlMs: 100 },
    { op: 'expiry', executor: 'executor-1' },
    { op: 'reclaim', via: 'expiry', reply: ['executor-1'] },
    allocate('eval-B', 'executor-1', 2),
    { op: 'crash', evalId: 'eval-Z', executor: 'executor-1', markerTtlMs: 100 }, // not B's marker: B keeps 60 s
    { op: 'expiry', executor: 'executor-1' }, // a late report: cannot be B's marker
    fired('eval-B'),
    fencedRelease('eval-B', 2, ['released']),
    quiet(['executor-1']),
  ]);
  for (const op of h.operations.slice(2)) op.at += 100;
  const result = checkHistory(h);
  assert.equal(result.sound, true, result.summary);
});
