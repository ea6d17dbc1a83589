/**
 * fast-check arbitraries for chaos rounds (server/checker/chaos.ts): small pools,
 * a handful of evals arriving at random times, random callback patterns, delays
 * and kills. Shared by the property tests and `npm run soak`.
 */
import fc from 'fast-check';
import type { EvalPlan, RoundPlan } from './chaos.ts';

export function evalPlan(): fc.Arbitrary<EvalPlan> {
  return fc.record({
    startMs: fc.integer({ min: 0, max: 25 }),
    workMs: fc.integer({ min: 0, max: 15 }),
    callbacks: fc.constantFrom('once', 'double', 'triple', 'late'),
    gapMs: fc.integer({ min: 0, max: 4 }),
    lateMs: fc.integer({ min: 10, max: 60 }),
    // About one eval in seven has its worker killed.
    killed: fc.integer({ min: 0, max: 6 }).map((n) => n === 0),
  });
}

export function roundPlan(): fc.Arbitrary<RoundPlan> {
  return fc.record({
    poolSize: fc.integer({ min: 1, max: 3 }),
    evals: fc.array(evalPlan(), { minLength: 3, maxLength: 10 }),
  });
}
