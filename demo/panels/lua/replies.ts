/**
 * The Lua panel's words and lines for what the server sent: Redis' replies to
 * allocations and releases, exactly as they came, and the state of an executor.
 * Pure functions of the protocol's data.
 */
import type { AllocateReply, PoolAction, ReleaseReply } from '../../../server/protocol.ts';
import { h } from '../../dom.ts';

/** One key per click, whether the server's broadcast or our own Ack brings it first. */
export function actionKey(action: PoolAction): string {
  switch (action.kind) {
    case 'allocated':
      return `allocated:${action.allocation.evalId}`;
    case 'released':
      // Redis' own clock is in every reply tuple: two clicks never share a key.
      return `released:${action.releases.map((release) => `${release.executor}=${release.reply.join(',')}`).join('|')}`;
    case 'reset':
      return `reset:${action.at}`;
  }
}

export function actionLabel(action: PoolAction): string {
  switch (action.kind) {
    case 'allocated':
      return 'allocate';
    case 'released':
      return `${action.releases.length > 1 ? 'double release' : 'release'} ${action.releases[0]?.executor ?? ''}`;
    case 'reset':
      return 'reset';
  }
}

/** An executor's state in words and a tone, from whether it is busy and how often it is listed. */
export function executorState(busy: boolean, inList: number): [string, string] {
  if (busy && inList > 0) return [inList > 1 ? `busy + listed ×${inList}` : 'busy + listed', 'bad'];
  if (inList > 1) return [`available ×${inList}`, 'bad'];
  if (busy) return ['busy', 'busy'];
  if (inList === 1) return ['available', 'free'];
  return ['lost', 'lost'];
}

/** The reply tuple exactly as Redis returned it, its strings (the status) picked out. */
function tuple(reply: readonly (number | string)[]): HTMLElement {
  const code = h('code', { className: 'lp-tuple' }, '[');
  reply.forEach((value, index) => {
    if (index > 0) code.append(', ');
    code.append(typeof value === 'string' ? h('span', { className: `lp-str lp-status-${value}`, text: JSON.stringify(value) }) : String(value));
  });
  code.append(']');
  return code;
}

/** What each status of release_executor.lua means, in the script's own terms. */
const MEANING: Record<ReleaseReply['status'], string> = {
  released: 'was busy, not listed: pushed back',
  already_in_pool: 'already listed: nothing added',
  not_busy: 'not busy, not listed: nothing to give back',
  stale_release: "not this owner's token: nothing changed",
};

export function replyLine(release: ReleaseReply): HTMLElement {
  return h(
    'div',
    { className: 'lp-reply', attrs: { 'data-kind': 'release', 'data-status': release.status, 'data-executor': release.executor } },
    h('span', { className: `lp-status lp-status-${release.status}`, text: release.status }),
    h('span', { className: 'lp-meaning', text: MEANING[release.status] }),
    tuple(release.reply),
  );
}

export function allocationLines(allocation: AllocateReply): HTMLElement[] {
  const lines = [
    h(
      'div',
      { className: 'lp-reply', attrs: { 'data-kind': 'allocation', 'data-executor': allocation.executor, 'data-eval-id': allocation.evalId } },
      h('span', { className: 'lp-status lp-status-allocated', text: 'allocated' }),
      h('span', { className: 'lp-meaning', text: 'RPOP from the tail, busy marker set' }),
      h('code', { className: 'lp-tuple', text: `${allocation.executor} → ${allocation.evalId}, TTL ${allocation.ttlSeconds} s` }),
    ),
  ];
  if (allocation.previousOwner) {
    lines.push(h('div', { className: 'lp-reply lp-bad', text: `⚠ still held by ${allocation.previousOwner}: one executor, two evals` }));
  }
  return lines;
}
