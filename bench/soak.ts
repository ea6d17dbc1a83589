/**
 * `npm run soak`: the chaos rounds of the property tests (server/checker/chaos.ts),
 * long: at least 10,000 recorded operations per release variant (naive, the
 * talk's Lua, fenced), on a private redis-server, four rounds at a time on four
 * pools. Every round's history is checked; nothing stops at the first violation.
 * Writes the summary into docs/RELIABILITY.md ("Soak") and the first broken
 * history of each unsafe variant into docs/histories/, for `npm run check`.
 *
 *   npm run soak                          # >= 10,000 operations per variant
 *   SOAK_OPERATIONS=2000 SOAK_WRITE=0 npm run soak
 */
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { fileURLToPath } from 'node:url';
import fc from 'fast-check';
import { startPrivateRedis } from '../server/redis/privateRedis.ts';
import { ChaosHarness, type RoundResult } from '../server/checker/chaos.ts';
import { formatViolation, type Rule } from '../server/checker/checker.ts';
import { roundPlan } from '../server/checker/plans.ts';
import type { ReleaseVariant } from '../server/pool/executorPool.ts';
import { replaceSection } from './markdown.ts';

const TARGET_OPERATIONS = Number(process.env.SOAK_OPERATIONS ?? 10_000);
const PARALLEL = 4;
const WRITE = process.env.SOAK_WRITE !== '0';
const SEED = Number(process.env.SOAK_SEED ?? 20261126);
const ROOT = fileURLToPath(new URL('..', import.meta.url));
const VARIANTS = (process.env.SOAK_VARIANTS ?? 'naive,lua,fenced').split(',') as ReleaseVariant[];

interface VariantSummary {
  variant: ReleaseVariant;
  rounds: number;
  operations: number;
  interleavings: number;
  brokenRounds: number;
  violations: number;
  byRule: Partial<Record<Rule, number>>;
  faults: RoundResult['faults'] & { evals: number };
  seconds: number;
  first: RoundResult | null;
}

async function soak(harness: ChaosHarness, variant: ReleaseVariant, seed: number): Promise<VariantSummary> {
  const started = Date.now();
  const summary: VariantSummary = {
    variant, rounds: 0, operations: 0, interleavings: 0, brokenRounds: 0, violations: 0, byRule: {},
    faults: { evals: 0, killed: 0, expired: 0, reclaimed: 0, double: 0, triple: 0, late: 0 }, seconds: 0, first: null,
  };
  const interleavings = new Set<string>();
  let batch = 0;
  while (summary.operations < TARGET_OPERATIONS) {
    const plans = fc.sample(roundPlan(), { numRuns: PARALLEL, seed: seed + batch++ });
    const results = await Promise.all(plans.map((plan) => harness.round(plan, variant)));
    results.forEach((result, i) => {
      summary.rounds++;
      summary.operations += result.history.operations.length;
      interleavings.add(result.interleaving);
      summary.faults.evals += plans[i]!.evals.length;
      for (const key of ['killed', 'expired', 'reclaimed', 'double', 'triple', 'late'] as const) summary.faults[key] += result.faults[key];
      if (!result.check.sound) {
        summary.brokenRounds++;
        summary.violations += result.check.violations.length;
        for (const [rule, n] of Object.entries(result.check.byRule)) summary.byRule[rule as Rule] = (summary.byRule[rule as Rule] ?? 0) + n;
        summary.first ??= result;
        // A reply the model cannot explain means the history or the checker is wrong: say so at once.
        const unexplained = result.check.violations.find((v) => v.rule === 'unexplained');
        if (unexplained) process.stdout.write(`\n${formatViolation(unexplained).join('\n')}\n`);
      }
    });
    process.stdout.write(`\r${variant}: ${summary.rounds} rounds, ${summary.operations} operations, ${summary.brokenRounds} broken`);
  }
  summary.interleavings = interleavings.size;
  summary.seconds = (Date.now() - started) / 1000;
  process.stdout.write('\n');
  return summary;
}

const NAMES: Record<ReleaseVariant, string> = { naive: 'naive (DEL + LPUSH)', lua: "the talk's Lua release", fenced: 'fenced release' };

function section(summaries: VariantSummary[], command: string, machine: string): string {
  const lines = [
    `Command: \`${command}\` (seed ${SEED}; on a private \`redis-server\`; ${machine}).`,
    '',
    'Each round: a fresh pool of 1-3 executors, 3-10 evals arriving within 25 ms, each allocating (retrying while the pool is',
    'empty), working 0-15 ms and firing its callbacks once, twice, three times (0-4 ms apart) or a second one 10-60 ms late;',
    'about one eval in seven has its worker killed mid-task: no callback runs, and the kill cuts its busy marker\'s TTL',
    "(60 s at allocation) to 150 ms in the transaction that records it; expiry notification and the reaper's sweep bring",
    'the executor back. Evals run over three connections, so their operations interleave at Redis.',
    'Every operation is recorded with its reply in Redis\' own order and the history is checked by `server/checker/checker.ts`.',
    '',
    '| release | rounds | operations | distinct interleavings | rounds broken | violations (by rule) | evals | killed | expiries | reclaimed | double | triple | late | time |',
    '|---|---:|---:|---:|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|',
  ];
  for (const s of summaries) {
    const rules = Object.entries(s.byRule).map(([rule, n]) => `${rule} ${n}`).join(', ') || '—';
    lines.push(
      `| ${NAMES[s.variant]} | ${s.rounds} | ${s.operations.toLocaleString('en-US')} | ${s.interleavings} | ${s.brokenRounds} | ${s.violations ? `${s.violations}: ${rules}` : '0'} | ` +
        `${s.faults.evals} | ${s.faults.killed} | ${s.faults.expired} | ${s.faults.reclaimed} | ${s.faults.double} | ${s.faults.triple} | ${s.faults.late} | ${s.seconds.toFixed(0)} s |`,
    );
  }
  lines.push('');
  for (const s of summaries) {
    if (!s.first) continue;
    lines.push(`First violation with ${NAMES[s.variant]} (its history: \`docs/histories/${s.variant}.json\`, \`npm run check -- docs/histories/${s.variant}.json\`):`);
    lines.push('');
    lines.push('```');
    lines.push(...formatViolation(s.first.check.first!));
    lines.push('```');
    lines.push('');
  }
  lines.push(
    'What this does not cover: a live eval whose task outlasts its busy-marker TTL (the reaper then hands its executor on while',
    'it still runs; the fence makes its late release harmless but cannot stop the overlap), and kills between a command and',
    'its reply. The rounds keep a live eval\'s TTL at 60 s for that reason.',
  );
  return lines.join('\n');
}

async function main(): Promise<void> {
  const redis = await startPrivateRedis();
  const harness = await ChaosHarness.connect(redis.url);
  const summaries: VariantSummary[] = [];
  try {
    for (const [i, variant] of VARIANTS.entries()) summaries.push(await soak(harness, variant, SEED + i * 100_000));
  } finally {
    await harness.close();
    await redis.stop();
  }
  for (const s of summaries) {
    console.log(`${s.variant}: ${s.rounds} rounds, ${s.operations} operations, ${s.interleavings} interleavings, ${s.brokenRounds} broken rounds, ${s.violations} violations ${JSON.stringify(s.byRule)}, faults ${JSON.stringify(s.faults)}, ${s.seconds.toFixed(1)} s`);
  }
  if (!WRITE) return;
  const machine = `${cpus().length} × ${cpus()[0]?.model ?? 'CPU'}, Node ${process.version}`;
  const command = TARGET_OPERATIONS === 10_000 ? 'npm run soak' : `SOAK_OPERATIONS=${TARGET_OPERATIONS} npm run soak`;
  const docs = `${ROOT}docs`;
  mkdirSync(`${docs}/histories`, { recursive: true });
  for (const s of summaries) {
    const path = `${docs}/histories/${s.variant}.json`;
    if (s.first) writeFileSync(path, `${JSON.stringify(s.first.history, null, 1)}\n`);
    else rmSync(path, { force: true });
  }
  const file = `${docs}/RELIABILITY.md`;
  const current = existsSync(file) ? readFileSync(file, 'utf8') : '# Reliability\n';
  writeFileSync(file, replaceSection(current, 'Soak', section(summaries, command, machine)));
  console.log('wrote docs/RELIABILITY.md ("Soak") and docs/histories/');
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
