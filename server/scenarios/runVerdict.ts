/**
 * A run's verdict, from its events alone: every invariant check's result, every
 * conflict (one executor handed to two evals) and a failed test, then the check
 * of the pool as the run left it. The recorder gives a run this verdict; a
 * recording is consistent when checking its snapshots again, and deriving the
 * verdict again, gives what it says.
 */
import type { InvariantVerdict, PoolSnapshot, RunRecord, RunVerdict, TimelineEvent, VerdictKind } from '../protocol.ts';
import { checkInvariant } from '../pool/invariant.ts';

/** The verdict that follows from `events` and the final check of the pool. */
export function runVerdict(events: readonly TimelineEvent[], finalCheck: InvariantVerdict): RunVerdict {
  const problems = new Set<string>();
  let everBroken = false;
  let duplicated = 0;
  let lost = 0;
  let conflicts = 0;
  for (const event of events) {
    if (event.kind === 'invariant') {
      const { verdict } = event.data;
      if (!verdict.sound) everBroken = true;
      duplicated = Math.max(duplicated, verdict.duplicated);
      lost = Math.max(lost, verdict.lost);
      for (const problem of verdict.problems) problems.add(problem);
    } else if (event.kind === 'conflict') {
      everBroken = true;
      conflicts++;
      problems.add(event.data.problem);
    } else if (event.kind === 'history-check' && event.data.first !== null) {
      everBroken = true;
      problems.add(`history check: ${event.data.first.message}`);
    } else if (event.kind === 'test-result' && event.data.problem !== null) {
      everBroken = true;
      problems.add(event.data.problem);
    }
  }
  for (const problem of finalCheck.problems) problems.add(problem);
  duplicated = Math.max(duplicated, finalCheck.duplicated);
  lost = Math.max(lost, finalCheck.lost);
  const sound = !everBroken && finalCheck.sound;
  const list = [...problems];
  const summary = sound
    ? finalCheck.summary
    : finalCheck.sound
      ? `Broken during the run (${list.length} problem${list.length === 1 ? '' : 's'}), though the pool looks whole now.`
      : finalCheck.summary;
  return { ...finalCheck, sound, summary, problems: list, duplicated, lost, conflicts, kind: verdictKind(sound, duplicated, conflicts, lost) };
}

function verdictKind(sound: boolean, duplicated: number, conflicts: number, lost: number): VerdictKind {
  if (sound) return 'sound';
  if (duplicated > 0 || conflicts > 0) return 'duplicate';
  if (lost > 0) return 'leak';
  return 'broken';
}

/** The invariant check of one snapshot, as a step of a run records it. */
export function checkStep(snapshot: PoolSnapshot, finishedEvals: readonly string[]): InvariantVerdict {
  return checkInvariant(snapshot, new Set(finishedEvals));
}

/**
 * Where a finished run's record disagrees with its own events: each invariant
 * event's verdict against the checker run again on its snapshot, then the run's
 * verdict against the one its events and final pool give. Empty: consistent.
 */
export function recheckRun(record: RunRecord): string[] {
  const disagreements: string[] = [];
  for (const event of record.events) {
    if (event.kind !== 'invariant') continue;
    const again = checkStep(event.data.snapshot, event.data.finishedEvals);
    if (!sameJson(again, event.data.verdict)) {
      disagreements.push(`event ${event.seq} (after ${event.data.after}): recorded ${JSON.stringify(event.data.verdict)}, the checker says ${JSON.stringify(again)}`);
    }
  }
  if (record.status === 'finished') {
    if (!record.poolAfter || !record.verdict) {
      disagreements.push('a finished run without its final pool or verdict');
    } else {
      const again = runVerdict(record.events, checkInvariant(record.poolAfter));
      if (!sameJson(again, record.verdict)) disagreements.push(`run verdict: recorded ${JSON.stringify(record.verdict)}, its events give ${JSON.stringify(again)}`);
    }
  }
  return disagreements;
}

/** Equal as JSON, whatever the order of object keys. */
function sameJson(a: unknown, b: unknown): boolean {
  return JSON.stringify(sorted(a)) === JSON.stringify(sorted(b));
}

function sorted(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(sorted);
  if (value && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value as Record<string, unknown>).sort(([a], [b]) => a.localeCompare(b)).map(([k, v]) => [k, sorted(v)]));
  }
  return value;
}
