/**
 * The three attempts and the defense layers, run for real: a site with BullMQ
 * worker processes and its own Redis, scenarios started over HTTP, and the runs'
 * records checked for what the talk claims. Each wait is for the run's own
 * `finished` event, never for a guessed time.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { RunRecordSchema, type ReleaseReply, type RunRecord, type RunSummary } from '../../server/protocol.ts';
import { recheckRun } from '../../server/scenarios/runVerdict.ts';
import { io as connect } from 'socket.io-client';
import { api, PRESENTER_SECRET, startSite, type Site } from '../support/site.ts';
import { withDeadline } from '../support/deadline.ts';

const PRESENTER = { authorization: `Bearer ${PRESENTER_SECRET}` };
/** A run's own deadline is 20 s; past this one the run service never said it finished. */
const RUN_DEADLINE_MS = 45_000;

let site: Site;

before(async () => {
  site = await startSite({ TASK_WORKERS: '2', STAGE_TTL_SECONDS: '2', REAPER_SWEEP_MS: '500', VIEWER_ACTION_BURST: '100' });
});

after(async () => {
  await site?.close();
});

async function run(scenario: string, body: Record<string, string> = {}): Promise<RunRecord> {
  const finished = new Promise<RunRecord>((resolve) => {
    const onFinished = (record: RunRecord) => {
      if (record.id !== started.body.id) return;
      site.runs.off('finished', onFinished);
      resolve(record);
    };
    site.runs.on('finished', onFinished);
  });
  // The presenter's runs: a viewer may not pick the release or the fault.
  const started = await api<RunSummary>(site, 'POST', `/api/scenarios/${scenario}/runs`, body, PRESENTER);
  assert.equal(started.status, 202, JSON.stringify(started.body));
  const record = await withDeadline(finished, RUN_DEADLINE_MS, `run ${started.body.id} to finish`);
  // The HTTP API returns the same record.
  const fetched = await api<RunRecord>(site, 'GET', `/api/runs/${record.id}`);
  assert.equal(fetched.status, 200);
  assert.equal(fetched.body.events.length, record.events.length);
  assert.equal(record.status, 'finished', record.error ?? '');
  // Every record is valid data, and its verdict follows from its own events.
  const parsed = RunRecordSchema.safeParse(fetched.body);
  assert.ok(parsed.success, parsed.success ? '' : parsed.error.message);
  assert.deepEqual(recheckRun(parsed.data), []);
  return record;
}

/**
 * The release statuses of a run, in the order Redis executed them (its clock is in
 * the Lua reply): two callbacks in two processes may report in either order.
 */
const releases = (record: RunRecord) =>
  record.events
    .flatMap((e): ReleaseReply[] => (e.kind === 'release-reply' ? [e.data] : []))
    .sort((a, b) => Number(a.reply[3] ?? 0) - Number(b.reply[3] ?? 0) || Number(a.reply[4] ?? 0) - Number(b.reply[4] ?? 0))
    .map((reply) => reply.status);

test('attempt 1 (link_error only): a successful eval never releases, the executor leaks', async () => {
  const record = await run('attempt-1', { fault: 'none' });
  assert.deepEqual(releases(record), [], 'no callback released');
  assert.equal(record.verdict?.sound, false);
  assert.match(record.verdict!.problems.join('\n'), /leaked: still busy for eval-a-/);
  assert.equal(record.verdict?.kind, 'leak');
});

test('attempt 2 (both callbacks, naive release): the invariant check catches the duplicate and the conflict', async () => {
  const record = await run('attempt-2', { fault: 'result-unstorable' });
  assert.deepEqual(releases(record), ['released', 'released'], 'link and link_error both pushed the executor');
  assert.equal(record.verdict?.sound, false);
  const problems = record.verdict!.problems.join('\n');
  assert.match(problems, /in the available list 2 times/);
  assert.match(problems, /executor-1 handed to eval-n\d-\w+ and eval-n\d-\w+ at once/);
  assert.ok(record.events.some((e) => e.kind === 'conflict'), 'the conflict is on the timeline');
  assert.equal(record.verdict?.kind, 'duplicate');
});

test('attempt 3 (both callbacks, the Lua release): already_in_pool, and the pool holds', async () => {
  const record = await run('attempt-3', { fault: 'result-unstorable' });
  assert.deepEqual(releases(record), ['released', 'already_in_pool']);
  assert.equal(record.verdict?.sound, true, record.verdict?.problems.join('\n'));
  const checks = record.events.filter((e) => e.kind === 'invariant');
  assert.ok(checks.length >= 4, 'checked after allocation, each release, the finish and the next allocations');
  assert.ok(checks.every((e) => e.kind === 'invariant' && e.data.verdict.sound));
  // Each release names its callback and the process it ran in.
  const replies = record.events.flatMap((e) => (e.kind === 'release-reply' ? [e.data] : []));
  assert.deepEqual(replies.map((r) => r.callback).sort(), ['link', 'link_error']);
  assert.deepEqual(replies.map((r) => r.callbackLane === 'cleanup-job'), replies.map((r) => r.callback === 'link'));
  // The double release was detected, logged once, and counted.
  assert.ok(site.logLines.some((line) => line.includes('"msg":"Double release detected"') && line.includes('"pool":"attempt-3"')));
  const metrics = await (await fetch(`${site.url}/metrics`, { headers: PRESENTER })).text();
  assert.match(metrics, /idem_double_releases_total\{pool="attempt-3"\} 1/);
  assert.match(metrics, /idem_releases_total\{pool="attempt-3",kind="lua",status="already_in_pool"\} 1/);
});

test('attempt 3 holds under a killed worker too (the stall check re-runs the job: link twice)', async () => {
  const record = await run('attempt-3', { fault: 'worker-killed' });
  assert.deepEqual(releases(record), ['released', 'already_in_pool']);
  assert.match(record.mechanism ?? '', /stall/i);
  assert.equal(record.verdict?.sound, true, record.verdict?.problems.join('\n'));
});

test('the TTL safety net returns an executor whose worker died with no callback', async () => {
  const record = await run('ttl-safety-net');
  assert.deepEqual(releases(record), [], 'no callback ran');
  const reclaimed = record.events.find((e) => e.kind === 'reclaimed');
  assert.ok(reclaimed, 'the reaper put it back');
  assert.equal(record.poolAfter?.available.length, record.poolAfter?.executors.length, 'every executor is available again');
});

test('a burst of concurrent allocations never hands one executor to two evals', async () => {
  const record = await run('atomic-allocation');
  const executors = record.events.flatMap((e) => (e.kind === 'allocate' && e.data.executor ? [e.data.executor] : []));
  assert.equal(executors.length, 4);
  assert.equal(new Set(executors).size, 4);
  assert.equal(record.verdict?.sound, true);
});

test("the talk's own test runs from the test suite against the live Redis and passes", async () => {
  const record = await run('edge-case-test');
  const result = record.events.find((e) => e.kind === 'test-result');
  assert.ok(result?.kind === 'test-result' && result.data.passed, 'the test passed');
  assert.ok(record.events.some((e) => e.kind === 'captured-log' && /Double release detected/.test(e.data.line)), 'the captured log line is shown');
  assert.ok(record.events.some((e) => e.kind === 'test-output' && e.data.lineType === 'pass'), 'the runner said ok');
});

test('bad run requests are refused and start nothing', async () => {
  const before = (await site.runs.latestRuns()).length;
  for (const [path, body] of [
    ['/api/scenarios/no-such-scenario/runs', {}],
    ['/api/scenarios/attempt-2/runs', { release: 'sloppy' }],
    ['/api/scenarios/attempt-2/runs', { fault: 'meteor' }],
    ['/api/scenarios/attempt-2/runs', { release: 'lua', extra: 1 }],
  ] as const) {
    const response = await api<{ error: string }>(site, 'POST', path, body);
    assert.equal(response.status, 400, `${path} ${JSON.stringify(body)}`);
    assert.equal(response.body.error, 'bad_request');
  }
  const missing = await api<{ error: string }>(site, 'GET', '/api/runs/run-does-not-exist');
  assert.deepEqual([missing.status, missing.body.error], [404, 'not_found']);
  // Bodies the JSON parser refuses are answered in JSON too, like every other /api error.
  for (const [body, status] of [
    ['{bad', 400],
    [JSON.stringify({ release: 'lua', padding: 'x'.repeat(5000) }), 413],
  ] as const) {
    const response = await fetch(`${site.url}/api/scenarios/attempt-2/runs`, { method: 'POST', headers: { 'content-type': 'application/json' }, body });
    assert.equal(response.status, status);
    assert.equal(((await response.json()) as { error: string }).error, 'bad_request');
  }
  assert.equal((await api(site, 'GET', '/api/runs/..%2Fetc')).status, 400);
  assert.equal((await site.runs.latestRuns()).length, before);
});

test('over socket.io: runs:watch with no payload is answered, a run streams its events, garbage is refused', async () => {
  // The presenter's socket (it picks the fault); a script proves it with the bearer header.
  const socket = connect(site.url, { transports: ['websocket'], forceNew: true, extraHeaders: PRESENTER });
  try {
    const watched = (await socket.timeout(5000).emitWithAck('runs:watch')) as { ok: boolean; data: RunRecord[] };
    assert.equal(watched.ok, true);
    assert.ok(Array.isArray(watched.data));

    const bad = (await socket.timeout(5000).emitWithAck('run:start', { scenario: 'attempt-9' })) as { ok: boolean; error: string };
    assert.deepEqual([bad.ok, bad.error], [false, 'bad_request']);

    const events: string[] = [];
    let runId = '';
    const finished = new Promise<RunRecord>((resolve) => {
      socket.on('run:event', (update: { runId: string; event: { kind: string } }) => {
        if (update.runId === runId) events.push(update.event.kind);
      });
      socket.on('run:finished', (run: RunRecord) => {
        if (run.id === runId) resolve(run);
      });
    });
    const started = (await socket.timeout(5000).emitWithAck('run:start', { scenario: 'attempt-3', fault: 'result-unstorable' })) as {
      ok: boolean;
      data: RunSummary;
    };
    assert.equal(started.ok, true);
    runId = started.data.id;
    const record = await withDeadline(finished, RUN_DEADLINE_MS, `run ${runId} to finish`);
    assert.equal(record.verdict?.sound, true);
    assert.ok(events.includes('release-reply'), 'release replies were streamed as they happened');
    const late = (await socket.timeout(5000).emitWithAck('runs:watch', {})) as { ok: boolean; data: RunRecord[] };
    assert.equal(late.data.find((run) => run.scenario === 'attempt-3')?.id, runId, 'a late joiner gets the latest run of each scenario');
  } finally {
    socket.close();
  }
});
