/**
 * The history checker: reads a pool's history (server/checker/history.ts) and
 * says whether the pool's invariant held at every point, and if not, where it
 * first broke and which operations led there. Pure: no Redis, no clock.
 *
 * It replays the history against a model of the pool: the available list in
 * order, each executor's busy marker, and which evals really run on which
 * executor (an eval runs on its executor from its allocation until its task is
 * over: its first callback fires, or its worker dies). Each operation is applied
 * as its reply says Redis applied it, so the model follows Redis, not the
 * scripts' intent. The invariant, checked after every operation:
 *
 *  - every executor is exactly one of: available (listed once, no marker) or busy
 *    with one owner;
 *  - never two owners at once: no executor handed to an eval while another one
 *    still runs on it, and none made available while an eval still runs on it;
 *  - never in the available list twice;
 *  - none lost: once the history is quiet (every eval over, every TTL run, the
 *    reaper swept), every executor is available, exactly once.
 *
 * A reply the model cannot explain (e.g. an allocation handing out an executor
 * the model has not listed) is reported too: then the history, or the checker,
 * is wrong, and a verdict of "sound" would mean nothing.
 */
import type { HistoryOperation, OperationOf, PoolHistory } from './history.ts';
import { parseBusyMarker } from '../pool/executorPool.ts';
import { entryUrl, formatOperation } from '../../common/historyText.ts';

export type Rule =
  /** An executor handed to an eval while another eval still runs on it. */
  | 'two-owners'
  /** An executor put back in the available list while an eval still runs on it. */
  | 'available-while-running'
  /** An executor in the available list more than once. */
  | 'listed-twice'
  /** An executor both listed and marked busy. */
  | 'listed-and-busy'
  /** Quiet, and an executor is neither available nor busy, or still busy. */
  | 'lost'
  /** A reply the model of the pool cannot explain. */
  | 'unexplained';

export interface Violation {
  rule: Rule;
  /** The operation after which the invariant no longer held. */
  seq: number;
  executor: string | null;
  message: string;
  /** The operations that led to it: every earlier operation on this executor (or on its evals), oldest first, at most 20. */
  trail: HistoryOperation[];
}

export interface CheckResult {
  sound: boolean;
  operations: number;
  /** The first violation, or null when the invariant held throughout. */
  first: Violation | null;
  /** Every violation found (the replay goes on after the first, on the model of what Redis did). */
  violations: Violation[];
  /** Counts per rule. */
  byRule: Partial<Record<Rule, number>>;
  /** One line for people. */
  summary: string;
}

interface ExecutorModel {
  /** Marker as the model knows it: owner and token (null when the marker held none). */
  marker: { owner: string; token: number | null; allocatedAt: number; ttlMs: number } | null;
  /** Evals that run on it now (allocated, task not over). */
  running: Set<string>;
  /** Operations that touched it, for the trail. */
  trail: HistoryOperation[];
}

const TRAIL_LENGTH = 20;
/** A TTL starts when Redis runs the command, after the `at` taken before sending it; a report of its end comes after that end. Milliseconds round: 2 ms. */
const EXPIRY_SLACK_MS = 2;

/**
 * What a release's reply says it did: deleted the marker, pushed the entry; and
 * for a refused fenced release, the token the marker held (0: none).
 */
function releaseEffect(op: OperationOf<'release'>): { deleted: boolean; pushed: boolean; listLength: number | null; held: number | null } | null {
  const [a, b] = op.reply;
  if (op.variant === 'naive') {
    if (typeof a !== 'number' || typeof b !== 'number') return null;
    return { deleted: a === 1, pushed: true, listLength: b, held: null };
  }
  if (op.variant === 'fenced') {
    // Its status alone, and the held token when it refuses.
    if (a === 'released' && op.reply.length === 1) return { deleted: true, pushed: true, listLength: null, held: null };
    if (a === 'stale_release' && typeof b === 'number') return { deleted: false, pushed: false, listLength: null, held: b };
    return null;
  }
  // The talk's release: [was_busy, added, status, now_ms, previous_release_ms].
  if (typeof a !== 'number' || typeof b !== 'number') return null;
  return { deleted: a === 1, pushed: b === 1, listLength: null, held: null };
}

export function checkHistory(history: PoolHistory): CheckResult {
  const executors = new Map<string, ExecutorModel>(history.executors.map((url) => [url, { marker: null, running: new Set(), trail: [] }]));
  /** The available list, head (LPUSH end) first; RPOP takes the last. */
  const list: string[] = history.available ? [...history.available] : [...history.executors].reverse();
  /** eval -> the executor it was allocated, and whether its task is over. */
  const evals = new Map<string, { executor: string; over: boolean }>();
  const violations: Violation[] = [];
  const operations = [...history.operations].sort((x, y) => x.seq - y.seq);

  const model = (url: string): ExecutorModel => {
    let found = executors.get(url);
    if (!found) {
      found = { marker: null, running: new Set(), trail: [] };
      executors.set(url, found);
    }
    return found;
  };
  const count = (url: string) => list.filter((x) => x === url).length;
  const violate = (op: HistoryOperation, rule: Rule, executor: string | null, message: string) => {
    const trail = executor ? model(executor).trail.slice(-TRAIL_LENGTH) : operations.filter((o) => o.seq <= op.seq).slice(-TRAIL_LENGTH);
    violations.push({ rule, seq: op.seq, executor, message, trail });
  };
  const touch = (url: string, op: HistoryOperation) => {
    const trail = model(url).trail;
    if (trail.at(-1) !== op) trail.push(op);
  };
  const others = (running: Set<string>, evalId: string | null) => [...running].filter((e) => e !== evalId);
  const describe = (op: HistoryOperation) =>
    op.op === 'release' ? `${op.evalId}'s release (${op.callback}, ${op.variant})` : op.op === 'reclaim' ? `the reaper (${op.via})` : op.op;

  /**
   * A marker the model holds but Redis says is gone: it expired before its expiry was
   * reported. Accepted whenever it happens: the history's times are taken when a command
   * is sent, and a command may run much later on a loaded machine, so no clock here can
   * prove that a TTL had not yet run out.
   */
  const lapse = (url: string) => {
    model(url).marker = null;
  };

  const push = (url: string, op: HistoryOperation, by: string | null) => {
    list.unshift(url);
    const m = model(url);
    const runners = others(m.running, by);
    if (runners.length > 0) {
      violate(op, 'available-while-running', url, `${describe(op)} made ${url} available while ${runners.join(' and ')} still runs on it: the next allocation hands it to a second eval`);
    }
    if (count(url) > 1) {
      violate(op, 'listed-twice', url, `${describe(op)} put ${url} in the available list a ${count(url) === 2 ? 'second' : `${count(url)}th`} time: ${count(url)} evals can be handed it`);
    }
  };

  for (const op of operations) {
    switch (op.op) {
      case 'allocate': {
        if (!op.reply) {
          if (list.length > 0) violate(op, 'unexplained', null, `allocation for ${op.evalId} found the pool empty, but the model lists ${list.join(', ')}`);
          break;
        }
        const [entry, previousMarker, token] = op.reply;
        const url = entryUrl(entry);
        if (!url) {
          violate(op, 'unexplained', null, `allocation for ${op.evalId} returned a malformed entry ${JSON.stringify(entry)}`);
          break;
        }
        touch(url, op);
        const m = model(url);
        if (list.at(-1) !== url) {
          violate(op, 'unexplained', url, `allocation for ${op.evalId} took ${url}, but the model's list ends with ${list.at(-1) ?? 'nothing'}`);
          const at = list.lastIndexOf(url);
          if (at >= 0) list.splice(at, 1);
        } else {
          list.pop();
        }
        if (previousMarker !== '' && !m.marker) {
          // The script replaced a marker the model did not know: only possible if the model is wrong.
          violate(op, 'unexplained', url, `allocation for ${op.evalId} replaced a marker (${previousMarker}) the model had not seen on ${url}`);
        }
        if (previousMarker === '' && m.marker) lapse(url);
        const runners = others(m.running, op.evalId);
        if (runners.length > 0) {
          violate(op, 'two-owners', url, `${url} handed to ${op.evalId} while ${runners.join(' and ')} still runs on it: two evals on one executor`);
        }
        m.marker = { ...parseBusyMarker(`${op.evalId}@${token}`), allocatedAt: op.at, ttlMs: op.ttlMs };
        m.running.add(op.evalId);
        evals.set(op.evalId, { executor: url, over: false });
        break;
      }
      case 'callback':
      case 'crash': {
        touch(op.executor, op);
        const marker = model(op.executor).marker;
        if (op.op === 'crash' && op.markerTtlMs !== undefined && marker?.owner === op.evalId) {
          model(op.executor).marker = { ...marker, allocatedAt: op.at, ttlMs: op.markerTtlMs };
        }
        const life = evals.get(op.evalId);
        if (life && !life.over) {
          life.over = true;
          model(life.executor).running.delete(op.evalId);
        }
        break;
      }
      case 'release': {
        touch(op.executor, op);
        const m = model(op.executor);
        const effect = releaseEffect(op);
        if (!effect) {
          violate(op, 'unexplained', op.executor, `${describe(op)}: a reply the checker cannot read: ${JSON.stringify(op.reply)}`);
          break;
        }
        if (effect.deleted && !m.marker) {
          violate(op, 'unexplained', op.executor, `${describe(op)} deleted a busy marker on ${op.executor} the model did not have`);
        }
        if (!effect.deleted && m.marker && op.variant !== 'fenced') lapse(op.executor);
        if (!effect.deleted && m.marker && op.variant === 'fenced') {
          const held = effect.held;
          if (held === 0) lapse(op.executor);
          else if (typeof held === 'number' && m.marker.token !== held) {
            violate(op, 'unexplained', op.executor, `${describe(op)} says token ${held} holds ${op.executor}; the model says ${m.marker.token}`);
          }
        }
        if (effect.deleted) m.marker = null;
        if (effect.pushed) {
          if (op.variant !== 'naive' && count(op.executor) > 0) {
            violate(op, 'unexplained', op.executor, `${describe(op)} says it added ${op.executor}, which the model already lists`);
          }
          push(op.executor, op, op.evalId);
          if (effect.listLength !== null && effect.listLength !== list.length) {
            violate(op, 'unexplained', op.executor, `${describe(op)}: Redis' list has ${effect.listLength} entries, the model ${list.length}`);
          }
        }
        break;
      }
      case 'expiry': {
        touch(op.executor, op);
        // The report names a key, not a marker: it may be about an earlier marker of this
        // executor (already gone, the executor reclaimed and handed out again) whose report
        // arrived late. Only a marker whose TTL can have run out is the one that expired.
        const marker = model(op.executor).marker;
        if (marker && op.at >= marker.allocatedAt + marker.ttlMs - EXPIRY_SLACK_MS) model(op.executor).marker = null;
        break;
      }
      case 'reclaim': {
        for (const url of op.reply) {
          touch(url, op);
          if (count(url) > 0) violate(op, 'unexplained', url, `the reaper put back ${url}, which the model already lists`);
          if (model(url).marker) lapse(url);
          push(url, op, null);
        }
        break;
      }
      case 'quiet': {
        for (const [url, m] of executors) touch(url, op);
        const listed = new Map<string, number>();
        for (const url of op.available) listed.set(url, (listed.get(url) ?? 0) + 1);
        if (op.available.join(' ') !== list.join(' ')) {
          violate(op, 'unexplained', null, `quiet: Redis lists [${op.available.join(', ')}], the model [${list.join(', ')}]`);
        }
        for (const url of history.executors) {
          const n = listed.get(url) ?? 0;
          const owner = op.busy[url];
          if (owner !== undefined) {
            violate(op, 'lost', url, `quiet, every TTL run, and ${url} is still busy with ${owner}: no callback and no expiry will give it back`);
          } else if (n === 0) {
            violate(op, 'lost', url, `quiet, every TTL run, and ${url} is neither available nor busy: lost for good`);
          } else if (n > 1) {
            violate(op, 'listed-twice', url, `quiet, and ${url} is in the available list ${n} times`);
          }
        }
        break;
      }
    }
    // After every operation: no executor both listed and marked busy.
    const url = 'executor' in op ? op.executor : op.op === 'allocate' && op.reply ? entryUrl(op.reply[0]) : null;
    if (url && model(url).marker && count(url) > 0) {
      violate(op, 'listed-and-busy', url, `after ${describe(op)}, ${url} is both in the available list and busy with ${model(url).marker!.owner}`);
    }
  }

  const byRule: Partial<Record<Rule, number>> = {};
  for (const v of violations) byRule[v.rule] = (byRule[v.rule] ?? 0) + 1;
  const first = violations[0] ?? null;
  return {
    sound: violations.length === 0,
    operations: operations.length,
    first,
    violations,
    byRule,
    summary: first
      ? `Broken at seq ${first.seq} (${first.rule}): ${first.message}. ${violations.length} violation${violations.length === 1 ? '' : 's'} in ${operations.length} operations.`
      : `Sound: the invariant held after each of ${operations.length} operations on ${history.executors.length} executors.`,
  };
}

/** A violation and its trail, as lines for a terminal or a log. */
export function formatViolation(violation: Violation): string[] {
  const lines = [`seq ${violation.seq} [${violation.rule}] ${violation.message}`, '  the operations that led to it:'];
  for (const op of violation.trail) lines.push(`    ${formatOperation(op)}`);
  return lines;
}
