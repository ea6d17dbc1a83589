/**
 * The Lua panel's log: every click on the pool (this viewer's or another's),
 * every double-release warning, and notes such as a reconnect, newest first.
 */
import type { ApiError, DoubleReleaseWarning, PoolAction } from '../../../server/protocol.ts';
import type { LocalFailure } from '../../connection.ts';
import { formatClock, h } from '../../dom.ts';
import { commonFailureText } from '../../failures.ts';

/** One click on the pool, by this viewer or another, as the server announced or acknowledged it. */
export interface ActionEntry {
  key: string;
  action: PoolAction;
  /** This viewer clicked it; known at once for allocations (our eval id), on the Ack for releases. */
  mine: boolean;
  /** For releases: which button (one release or both callbacks). */
  label: string;
}

export type LogItem =
  | { kind: 'action'; entry: ActionEntry; at: number }
  | { kind: 'warning'; warning: DoubleReleaseWarning; at: number }
  | { kind: 'note'; text: string; at: number };

/** `others`: what to call a click not this viewer's ("viewer" live, "recorded" in a replay). */
export function logLine(item: LogItem, others = 'viewer'): HTMLElement {
  const time = h('span', { className: 'lp-time', text: formatClock(item.at) });
  if (item.kind === 'warning') {
    const { warning } = item;
    return h('li', { className: 'lp-log-warning' }, time, `⚠ ${warning.message}: ${warning.executor}, ${warning.sinceLastReleaseMs} ms apart`);
  }
  if (item.kind === 'note') return h('li', { className: 'lp-log-note' }, time, item.text);
  const { entry } = item;
  const who = entry.mine ? 'you' : others;
  const action = entry.action;
  const text =
    action.kind === 'allocated'
      ? `${who}: allocate → ${action.allocation.executor} (${action.allocation.evalId})`
      : action.kind === 'released'
        ? `${who}: ${entry.label} → ${action.releases.map((release) => release.status).join(', ')}`
        : `pool reset (${action.size} executors)`;
  return h('li', {}, time, text);
}

/** An error from an Ack or from the connection, in the words a viewer needs. */
export function describeFailure(failure: ApiError | LocalFailure): string {
  switch (failure.error) {
    case 'rate_limited':
      return 'Too many clicks: wait a second, then try again.';
    case 'pool_empty':
      return 'The pool is empty: every executor is busy. Release one first.';
    case 'timeout':
      return `${failure.message} The pool above is still read live from Redis.`;
    default:
      return commonFailureText(failure) ?? 'The server could not do that. Try again.';
  }
}
