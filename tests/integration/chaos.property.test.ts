/**
 * Property-based: many evals at once against a real private Redis, with random
 * double, triple and late callbacks, random delays, killed workers and TTL
 * expiries (server/checker/chaos.ts), every round recorded as a history and
 * checked (server/checker/checker.ts). With
 *  - the naive release, the checker must find violations (proof it can fail);
 *  - the talk's release, it must find the late duplicate;
 *  - the fenced release, it must find none.
 * Sized for CI: PROPERTY_RUNS rounds for the fenced release (default 40); the
 * other two stop at their first violation. `npm run soak` runs the long version.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { startPrivateRedis, type PrivateRedis } from '../../server/redis/privateRedis.ts';
import { ChaosHarness, type RoundResult } from '../../server/checker/chaos.ts';
import { formatViolation } from '../../server/checker/checker.ts';
import { roundPlan } from '../../server/checker/plans.ts';
import type { ReleaseVariant } from '../../server/pool/executorPool.ts';

const FENCED_RUNS = Number(process.env.PROPERTY_RUNS ?? 40);
/** The unsafe variants must be caught within this many rounds. */
const MAX_RUNS_TO_CATCH = 60;

let redis: PrivateRedis;
let harness: ChaosHarness;

before(async () => {
  redis = await startPrivateRedis();
  harness = await ChaosHarness.connect(redis.url);
});

after(async () => {
  await harness?.close();
  await redis?.stop();
});

interface Tally {
  rounds: number;
  operations: number;
  interleavings: Set<string>;
  firstBroken: RoundResult | null;
}

/** Runs rounds of `variant` as a fast-check property "the invariant holds"; returns what was tried and fast-check's verdict. */
async function explore(variant: ReleaseVariant, numRuns: number, seed: number) {
  const tally: Tally = { rounds: 0, operations: 0, interleavings: new Set(), firstBroken: null };
  const details = await fc.check(
    fc.asyncProperty(roundPlan(), async (plan) => {
      const result = await harness.round(plan, variant);
      tally.rounds++;
      tally.operations += result.history.operations.length;
      tally.interleavings.add(result.interleaving);
      if (!result.check.sound) tally.firstBroken ??= result;
      return result.check.sound;
    }),
    { numRuns, seed, endOnFailure: true },
  );
  console.log(
    `${variant}: ${tally.rounds} rounds, ${tally.operations} operations, ${tally.interleavings.size} distinct interleavings; ` +
      (tally.firstBroken ? `violation found (seed ${seed}):` : 'no violation'),
  );
  if (tally.firstBroken) for (const line of formatViolation(tally.firstBroken.check.first!)) console.log(`  ${line}`);
  return { details, tally };
}

test('the naive release: the checker finds violations (a duplicate in the list, or a second owner)', { timeout: 120_000 }, async () => {
  const { details, tally } = await explore('naive', MAX_RUNS_TO_CATCH, 1);
  assert.equal(details.failed, true, 'the naive release must be caught');
  const rules = new Set(tally.firstBroken!.check.violations.map((v) => v.rule));
  assert.ok(rules.has('listed-twice') || rules.has('two-owners') || rules.has('available-while-running'), [...rules].join(', '));
  assert.ok(!rules.has('unexplained'), 'every reply explained by the model');
});

test("the talk's release: the checker finds the late duplicate (a callback of a finished eval frees the next eval's executor)", { timeout: 120_000 }, async () => {
  const { details, tally } = await explore('lua', MAX_RUNS_TO_CATCH, 2);
  assert.equal(details.failed, true, "the talk's release must be caught");
  const first = tally.firstBroken!.check.first!;
  assert.equal(first.rule, 'available-while-running', first.message);
  const culprit = first.trail.at(-1)!;
  assert.ok(culprit.op === 'release' && culprit.variant === 'lua', 'the talk\'s release did it');
  assert.ok(
    first.trail.some((op) => op.op === 'callback' && culprit.op === 'release' && op.evalId === culprit.evalId && op.seq < culprit.seq),
    'by an eval whose task was already over',
  );
  assert.ok(!tally.firstBroken!.check.violations.some((v) => v.rule === 'listed-twice' || v.rule === 'unexplained'), 'never a duplicate in the list');
});

test('the fenced release: no violation in any round', { timeout: 110_000 }, async () => {
  const { details, tally } = await explore('fenced', FENCED_RUNS, 3);
  assert.equal(details.failed, false, details.failed ? `counterexample: ${JSON.stringify(details.counterexample)}` : '');
  assert.equal(tally.rounds, FENCED_RUNS);
  assert.ok(tally.operations >= FENCED_RUNS * 10, `${tally.operations} operations`);
});
