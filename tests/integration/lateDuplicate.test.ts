/**
 * The late-duplicate scenario over the runs API, on a site with its own Redis:
 * with the talk's release, eval-A's late callback frees eval-B's executor and
 * eval-C is handed it (conflict, and the history checker says where it broke);
 * with the fenced release the late callback is stale_release and the run is
 * sound. Each wait is for the run's own `finished` event, under a deadline.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { type RunRecord, type TimelineEventOf } from '../../server/protocol.ts';
import { checkHistory } from '../../server/checker/checker.ts';
import { api, PRESENTER_SECRET, startSite, type Site } from '../support/site.ts';
import { runScenario } from '../support/scenarioRun.ts';

const RUN_DEADLINE_MS = 30_000;
/** The presenter's runs: only the presenter picks the release. */
const PRESENTER = { authorization: `Bearer ${PRESENTER_SECRET}` };
let site: Site;

before(async () => {
  site = await startSite({ VIEWER_ACTION_BURST: '100' });
});

after(async () => {
  await site?.close();
});

function run(body: Record<string, string>): Promise<RunRecord> {
  return runScenario(site, 'late-duplicate', body, RUN_DEADLINE_MS);
}

const eventsOf = <K extends TimelineEventOf<'pool-release'>['kind'] | 'allocate' | 'history-check' | 'conflict'>(record: RunRecord, kind: K) =>
  record.events.filter((e) => e.kind === kind) as TimelineEventOf<K>[];

test("{\"release\":\"lua\"}: the talk's release frees eval-B's executor on eval-A's late callback; eval-C shares it, and the checker says so", async () => {
  const record = await run({ release: 'lua' });
  const releases = eventsOf(record, 'pool-release');
  const late = releases.find((e) => e.data.evalId.startsWith('eval-A') && e.data.callback === 'link_error')!;
  assert.deepEqual(late.data.reply.reply.slice(0, 3), [1, 1, 'released'], 'the late release went through');
  const allocations = eventsOf(record, 'allocate');
  assert.deepEqual(allocations.map((e) => e.data.executor), ['executor-1', 'executor-1', 'executor-1'], 'A, B and C all got executor-1');
  assert.equal(eventsOf(record, 'conflict').length, 1);
  const check = eventsOf(record, 'history-check')[0]!;
  assert.equal(check.data.sound, false);
  assert.equal(check.data.first?.rule, 'available-while-running');
  assert.match(check.data.first!.message, /eval-A-\w+'s release \(link_error, lua\) made executor-1 available while eval-B-\w+ still runs on it/);
  assert.deepEqual(checkHistory(check.data.history).first?.seq, check.data.first?.seq, 'the recorded history checks the same offline');
  assert.equal(record.verdict?.sound, false);
  assert.equal(record.verdict?.kind, 'duplicate');
  assert.ok(!site.logLines.some((line) => line.includes('Double release detected')), 'the talk\'s warning stayed silent: 1.5 s apart');
});

test('{"release":"fenced"}: the late callback is stale_release, eval-B keeps executor-1, eval-C finds the pool empty; sound', async () => {
  const record = await run({ release: 'fenced' });
  const releases = eventsOf(record, 'pool-release');
  const late = releases.find((e) => e.data.evalId.startsWith('eval-A') && e.data.callback === 'link_error')!;
  const allocations = eventsOf(record, 'allocate');
  assert.equal(late.data.reply.status, 'stale_release');
  assert.deepEqual(late.data.reply.reply, ['stale_release', allocations[1]!.data.token], 'the reply names the token that holds it: eval-B\'s');
  assert.equal(late.data.token, allocations[0]!.data.token, "it carried eval-A's token");
  assert.deepEqual(allocations.map((e) => e.data.executor), ['executor-1', 'executor-1', null], 'eval-C: pool empty');
  assert.equal(eventsOf(record, 'conflict').length, 0);
  const check = eventsOf(record, 'history-check')[0]!;
  assert.equal(check.data.sound, true, check.data.summary);
  assert.equal(record.verdict?.sound, true);
  assert.deepEqual(record.poolAfter?.available, ['executor-1']);
});

test('the fenced release is refused by the scenarios whose workers carry no token: 400, nothing queued', async () => {
  const reply = await api<{ error: string; message: string }>(site, 'POST', '/api/scenarios/attempt-2/runs', { release: 'fenced' }, PRESENTER);
  assert.equal(reply.status, 400);
  assert.equal(reply.body.error, 'bad_request');
  assert.match(reply.body.message, /attempt-2 plays the naive or lua release/);
  const junk = await api<{ error: string }>(site, 'POST', '/api/scenarios/late-duplicate/runs', { release: 'fenced-ish' }, PRESENTER);
  assert.equal(junk.status, 400);
});
