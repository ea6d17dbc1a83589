/**
 * A pool history's operations as one line of text each, as the history checker
 * prints a violation's trail: the same words in the terminal (`npm run check`),
 * in the chaos round's trail and on the late-duplicate slide. Pure, so the
 * server and the deck share it.
 */
import type { HistoryOperation } from '../server/protocol.ts';

/** The executor a pool entry (`{"url":"executor-1"}`) names; null when it names none. */
export function entryUrl(entry: string): string | null {
  try {
    const item = JSON.parse(entry) as { url?: unknown };
    return typeof item.url === 'string' ? item.url : null;
  } catch {
    return null;
  }
}

export function formatOperation(op: HistoryOperation): string {
  switch (op.op) {
    case 'allocate':
      return `#${op.seq} allocate ${op.evalId} → ${op.reply ? `${entryUrl(op.reply[0])} token ${op.reply[2]}${op.reply[1] ? ` (replaced marker ${op.reply[1]})` : ''}` : 'pool empty'}`;
    case 'release':
      return `#${op.seq} release ${op.executor} by ${op.evalId} (${op.callback}, ${op.variant}${op.token === null ? '' : `, token ${op.token}`}) → ${JSON.stringify(op.reply)}`;
    case 'callback':
      return `#${op.seq} ${op.callback} fired for ${op.evalId}`;
    case 'crash':
      return `#${op.seq} worker of ${op.evalId} killed (no callback will run)`;
    case 'expiry':
      return `#${op.seq} busy marker of ${op.executor} expired`;
    case 'reclaim':
      return `#${op.seq} reaper (${op.via}) put back ${JSON.stringify(op.reply)}`;
    case 'quiet':
      return `#${op.seq} quiet: available [${op.available.join(', ')}], busy ${JSON.stringify(op.busy)}`;
  }
}
