/**
 * The pool's invariant, checked from what Redis holds: every executor is exactly
 * once either available or busy (with one owner). Anything else is said in words
 * an audience can read: which executor, and what is wrong with it.
 */
import type { InvariantVerdict, PoolSnapshot } from '../protocol.ts';

/**
 * `finishedEvals`: evals known to be over. An executor still busy for one of them is
 * leaked: sound by the list's shape, but no callback will give it back before its TTL.
 */
export function checkInvariant(snapshot: PoolSnapshot, finishedEvals: ReadonlySet<string> = new Set()): InvariantVerdict {
  const problems: string[] = [];
  const counts = new Map<string, number>();
  for (const url of snapshot.available) counts.set(url, (counts.get(url) ?? 0) + 1);

  let lost = 0;
  let duplicated = 0;
  for (const url of snapshot.executors) {
    const available = counts.get(url) ?? 0;
    const owner = snapshot.busy[url];
    if (available > 1) {
      duplicated++;
      problems.push(`${url} is in the available list ${available} times: the next ${available} evals can all be handed it`);
    }
    if (available > 0 && owner !== undefined) {
      problems.push(`${url} is available and busy at once (held by ${owner})`);
    }
    if (available === 0 && owner !== undefined && finishedEvals.has(owner)) {
      lost++;
      const ttl = snapshot.busyTtlMs[url] ?? -1;
      problems.push(`${url} leaked: still busy for ${owner}, which has finished; only its TTL (${ttl >= 0 ? `${Math.ceil(ttl / 1000)} s` : 'none'}) can give it back`);
    }
    if (available === 0 && owner === undefined) {
      lost++;
      problems.push(`${url} is lost: neither available nor busy, no eval will ever get it back`);
    }
  }
  const members = new Set(snapshot.executors);
  for (const url of counts.keys()) {
    if (!members.has(url)) problems.push(`${url} is in the available list but is not an executor of this pool`);
  }

  const busy = Object.keys(snapshot.busy).length;
  const sound = problems.length === 0;
  const summary = sound
    ? `Sound: all ${snapshot.executors.length} executors accounted for, each exactly once (${snapshot.available.length} available, ${busy} busy).`
    : `Broken: ${problems.length} problem${problems.length === 1 ? '' : 's'}${duplicated ? `, ${duplicated} duplicated` : ''}${lost ? `, ${lost} lost` : ''}.`;
  return { sound, summary, problems, available: snapshot.available.length, busy, lost, duplicated };
}
