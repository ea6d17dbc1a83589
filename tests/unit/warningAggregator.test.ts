/**
 * A flood of double releases is logged as one line per executor and window, with
 * a count, not one line each.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createCapturingLogger } from '../../server/log.ts';
import { WarningAggregator } from '../../server/pool/warningAggregator.ts';

const parsed = (lines: string[]) => lines.map((line) => JSON.parse(line) as Record<string, unknown>);

test('1,000 warnings for one executor and one for another: the first of each at once, then one line with the count', () => {
  const { logger, lines } = createCapturingLogger();
  const warnings = new WarningAggregator(logger, 60_000);
  for (let i = 0; i < 1000; i++) warnings.warn('main|executor-1', 'Double release detected', { pool: 'main', executor: 'executor-1', sinceLastReleaseMs: i });
  warnings.warn('main|executor-2', 'Double release detected', { pool: 'main', executor: 'executor-2', sinceLastReleaseMs: 3 });
  assert.deepEqual(parsed(lines).map((l) => [l.executor, l.repeated]), [['executor-1', undefined], ['executor-2', undefined]], 'the first of each, at once');
  warnings.flush();
  const all = parsed(lines);
  assert.equal(all.length, 3);
  assert.deepEqual([all[2]!.msg, all[2]!.executor, all[2]!.repeated, all[2]!.windowMs], ['Double release detected', 'executor-1', 999, 60_000]);
  warnings.flush();
  assert.equal(lines.length, 3, 'a closed window logs nothing more');
});

test('after its window closes, the next warning for the executor is logged at once again', async () => {
  const { logger, lines } = createCapturingLogger();
  const warnings = new WarningAggregator(logger, 20);
  warnings.warn('k', 'Double release detected', { executor: 'executor-1' });
  warnings.warn('k', 'Double release detected', { executor: 'executor-1' });
  await new Promise((resolve) => setTimeout(resolve, 60));
  assert.deepEqual(parsed(lines).map((l) => l.repeated), [undefined, 1]);
  warnings.warn('k', 'Double release detected', { executor: 'executor-1' });
  assert.equal(lines.length, 3);
  assert.equal(parsed(lines)[2]!.repeated, undefined);
  warnings.flush();
});
