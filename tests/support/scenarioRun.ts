/**
 * A scenario run through the API, as the presenter starts one, to its end: the
 * server's record of it once finished, checked as any record must be (finished,
 * valid by the protocol's schema, a verdict that follows from its own events).
 */
import assert from 'node:assert/strict';
import { RunRecordSchema, type RunRecord, type RunSummary } from '../../server/protocol.ts';
import { recheckRun } from '../../server/scenarios/runVerdict.ts';
import { withDeadline } from './deadline.ts';
import { api, PRESENTER_SECRET, type Site } from './site.ts';

export async function runScenario(site: Site, scenario: string, body: Record<string, string>, deadlineMs: number): Promise<RunRecord> {
  let id = '';
  // Listening before the run starts: a short run may finish before the reply to its start arrives.
  const finished = new Promise<RunRecord>((resolve) => {
    const onFinished = (record: RunRecord) => {
      if (record.id !== id) return;
      site.runs.off('finished', onFinished);
      resolve(record);
    };
    site.runs.on('finished', onFinished);
  });
  const started = await api<RunSummary>(site, 'POST', `/api/scenarios/${scenario}/runs`, body, { authorization: `Bearer ${PRESENTER_SECRET}` });
  assert.equal(started.status, 202, JSON.stringify(started.body));
  id = started.body.id;
  const record = await withDeadline(finished, deadlineMs, `run ${id} to finish`);
  assert.equal(record.status, 'finished', record.error ?? '');
  const parsed = RunRecordSchema.safeParse(record);
  assert.ok(parsed.success, parsed.success ? '' : parsed.error.message);
  assert.deepEqual(recheckRun(parsed.data), [], 'the verdict follows from the run’s own events');
  return record;
}
