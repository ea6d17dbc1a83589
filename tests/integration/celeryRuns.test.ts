/**
 * The talk's three attempts side by side on real Celery: the same scenarios as on
 * BullMQ, started over HTTP with `"runtime":"celery"`, judged by the same checker.
 * Also: a run asks for a runtime and a fault that fit, or nothing starts.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import type { RunRecord } from '../../server/protocol.ts';
import { PRESENTER_SECRET, api, startSite, type Site } from '../support/site.ts';
import { runScenario } from '../support/scenarioRun.ts';

/** A Celery run's own deadline is 30 s, and the first one starts Python and the workers. */
const RUN_DEADLINE_MS = 90_000;
/** The runtime and the fault are the presenter's picks. */
const PRESENTER = { authorization: `Bearer ${PRESENTER_SECRET}` };

let site: Site;

before(async () => {
  site = await startSite({ TASK_WORKERS: '0', VIEWER_ACTION_BURST: '100' });
});

after(async () => {
  await site?.close();
});

async function runOnCelery(scenario: string, body: Record<string, string>): Promise<RunRecord> {
  const record = await runScenario(site, scenario, { ...body, runtime: 'celery' }, RUN_DEADLINE_MS);
  assert.equal(record.runtime, 'celery');
  return record;
}

const callbacks = (record: RunRecord) =>
  record.events.flatMap((e) => (e.kind === 'release-reply' ? [`${e.data.callback}:${e.data.status}`] : [])).sort();

test('on Celery, a worker killed after link: attempt 1 leaks, attempt 2 duplicates, attempt 3 holds', { timeout: 4 * RUN_DEADLINE_MS }, async () => {
  const attempt1 = await runOnCelery('attempt-1', { fault: 'worker-killed' });
  assert.deepEqual(callbacks(attempt1), [], 'Celery ran the eval again and it succeeded: link_error never ran');
  assert.equal(attempt1.verdict?.kind, 'leak', attempt1.mechanism ?? '');

  const attempt2 = await runOnCelery('attempt-2', { fault: 'worker-killed' });
  assert.deepEqual(callbacks(attempt2), ['link:released', 'link:released'], attempt2.mechanism ?? '');
  assert.equal(attempt2.verdict?.kind, 'duplicate', 'the naive release is caught');

  const attempt3 = await runOnCelery('attempt-3', { fault: 'worker-killed' });
  assert.deepEqual(callbacks(attempt3), ['link:already_in_pool', 'link:released'], attempt3.mechanism ?? '');
  assert.equal(attempt3.verdict?.kind, 'sound', attempt3.verdict?.problems.join('\n'));
});

test('Act 1 on Celery: link and link_error both run when on_success raises', { timeout: RUN_DEADLINE_MS }, async () => {
  const record = await runOnCelery('innocent-pattern', { fault: 'on-success-raises' });
  const replies = record.events.flatMap((e) => (e.kind === 'release-reply' ? [e.data] : []));
  // link_error runs at once in the pool child; link waits for a worker to pick it up: either may come first.
  assert.deepEqual(replies.map((r) => r.callback).sort(), ['link', 'link_error'], record.mechanism ?? '');
  assert.deepEqual(replies.map((r) => r.status).sort(), ['already_in_pool', 'released']);
  assert.ok(record.events.some((e) => e.kind === 'errback-called'), 'Celery called link_error itself');
  assert.equal(record.verdict?.kind, 'sound');
});

test('a run names a runtime and a fault of that runtime, or nothing starts', async () => {
  const before = (await site.runs.latestRuns()).length;
  for (const [path, body] of [
    ['/api/scenarios/attempt-2/runs', { runtime: 'rabbitmq' }],
    ['/api/scenarios/attempt-2/runs', { runtime: 'celery', fault: 'lock-lost' }],
    ['/api/scenarios/attempt-2/runs', { runtime: 'bullmq', fault: 'child-killed' }],
    ['/api/scenarios/attempt-2/runs', { fault: 'time-limit' }],
    ['/api/scenarios/ttl-safety-net/runs', { runtime: 'celery' }],
  ] as const) {
    const response = await api<{ error: string }>(site, 'POST', path, body, PRESENTER);
    assert.equal(response.status, 400, `${path} ${JSON.stringify(body)}`);
    assert.equal(response.body.error, 'bad_request');
  }
  assert.equal((await site.runs.latestRuns()).length, before);
});
