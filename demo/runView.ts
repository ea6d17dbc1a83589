/**
 * The pieces every run panel shows about one run, built from the run's record
 * as the server streamed it: the callbacks and Redis' replies, the verdict of
 * the pool's invariant check, the mechanism that fired, in words; and a whole
 * "run details" block (status, lanes, replies, verdict) for a panel to embed.
 */
import type { TimelineEvent, VerdictKind } from '../server/protocol.ts';
import { h } from './dom.ts';
import { FAULT_LABELS, PHASE_LABELS, REPLY_WORDS, callbackSteps, formatDuration, type RunView } from './runs.ts';
import { Timeline } from './timeline.ts';

export const VERDICT_HEADS: Record<VerdictKind, string> = {
  sound: '✓ Sound',
  leak: '✗ Leak',
  duplicate: '✗ Duplicate',
  broken: '✗ Broken',
};

/**
 * The server's summary under its head: the pool's check starts its summary with its own
 * word for the outcome ("Sound: all 4 executors…"), which the head beside it already says.
 */
function withoutHead(summary: string, head: string): string {
  const word = head.replace(/^\S+\s+/, '');
  return summary.startsWith(`${word}: `) ? summary.slice(word.length + 2) : summary;
}

/** How long a finished run played (ms), not counting its wait in the stage's queue; null while it plays. */
export function playedMs(run: RunView): number | null {
  const finishedAt = run.summary?.finishedAt;
  if (!finishedAt) return null;
  const firstStep = run.events.find((event) => event.kind !== 'queued')?.at ?? run.summary?.startedAt ?? run.startedAt;
  return Math.max(0, finishedAt - firstStep);
}

/** "finished in 1.5 s", "running…", "queued". */
export function phaseText(run: RunView): string {
  const played = playedMs(run);
  if ((run.phase === 'finished' || run.phase === 'failed') && played !== null) return `${PHASE_LABELS[run.phase]} in ${formatDuration(played)}`;
  return PHASE_LABELS[run.phase];
}

/** The reply tuple as Redis sent it; long timestamps kept (they are Redis' clock). */
export function tupleText(reply: readonly (number | string)[]): string {
  return `[${reply.map((part) => (typeof part === 'string' ? JSON.stringify(part) : String(part))).join(', ')}]`;
}

/** The callbacks' releases and Redis' replies, then any executor handed to two evals. */
export function callbackList(events: readonly TimelineEvent[], options: { compact?: boolean; finished?: boolean } = {}): HTMLElement {
  const compact = options.compact === true;
  const list = h('ol', { className: compact ? 'lp-steps lp-steps-compact' : 'lp-steps', attrs: { 'data-role': 'callbacks' } });
  for (const step of callbackSteps(events)) {
    const badge = h('span', { className: `lp-cb lp-cb-${step.callback === 'link_error' ? 'link-error' : 'link'}`, text: step.callback === 'link_error' ? 'E' : 'L' });
    const status = h('span', { className: `lp-status lp-reply-${step.tone}`, text: compact && step.tone === 'duplicate' ? 'duplicate' : REPLY_WORDS[step.tone] });
    const item = h('li', {
      className: `lp-step lp-step-${step.tone}`,
      attrs: {
        'data-callback': step.callback,
        'data-status': step.reply.status,
        'data-tone': step.tone,
        title: `${step.event.text} (ran in ${step.lane})`,
      },
    });
    if (compact) {
      item.append(badge, h('span', { className: 'lp-step-arrow', text: '→' }), status);
    } else {
      item.append(badge, h('span', { className: 'lp-step-name', text: step.callback }), h('span', { className: 'lp-where', text: step.lane }));
      item.append(h('span', { className: 'lp-step-arrow', text: '→' }), status, h('code', { className: 'lp-tuple-s', text: tupleText(step.reply.reply) }));
    }
    list.append(item);
  }
  for (const event of events) {
    if (event.kind !== 'conflict') continue;
    const { executor, evals, problem } = event.data;
    const text = compact ? `⚠ ${executor} → ${evals.length} evals` : `⚠ ${problem}`;
    list.append(h('li', { className: 'lp-step lp-step-conflict', text, attrs: { 'data-kind': 'conflict', title: problem } }));
  }
  if (list.childElementCount === 0) {
    const none = options.finished ? (compact ? 'no release at all' : 'no callback released the executor') : 'no release yet';
    list.append(h('li', { className: 'lp-step lp-step-none', text: none }));
  }
  return list;
}

/** The run's verdict, in words: the server's summary and every problem it found. */
export function verdictBlock(run: RunView, options: { compact?: boolean; words?: Partial<Record<VerdictKind, string>> } = {}): HTMLElement {
  const block = h('div', { className: options.compact ? 'lp-verdict lp-verdict-compact' : 'lp-verdict', attrs: { 'data-role': 'verdict', 'data-phase': run.phase } });
  const summary = run.summary;
  if (run.phase === 'failed') {
    block.dataset.kind = 'failed';
    block.append(h('div', { className: 'lp-verdict-head', text: '✗ The run failed' }), h('div', { className: 'lp-verdict-summary', text: summary?.error ?? 'no reason given' }));
    return block;
  }
  const verdict = summary?.verdict;
  if (run.phase !== 'finished' || !verdict) {
    block.dataset.kind = 'pending';
    block.append(h('div', { className: 'lp-verdict-pending', text: run.phase === 'queued' ? 'waiting for the runs ahead of it' : 'verdict when the run ends' }));
    return block;
  }
  const kind = verdict.kind;
  block.dataset.kind = kind;
  block.dataset.sound = String(verdict.sound);
  const head = h('div', { className: 'lp-verdict-head', text: VERDICT_HEADS[kind] });
  const words = options.words?.[kind];
  const summaryLine = h('div', { className: 'lp-verdict-summary', text: withoutHead(verdict.summary, VERDICT_HEADS[kind]) });
  if (options.compact) {
    block.append(head);
    if (words) block.append(h('div', { className: 'lp-verdict-words', text: words }));
    block.append(summaryLine);
  } else {
    // One line for the headline and the server's summary: the panel has little height.
    block.append(h('div', { className: 'lp-verdict-line' }, head, summaryLine));
    if (words) block.append(h('div', { className: 'lp-verdict-words', text: words }));
  }
  if (verdict.problems.length > 0) {
    block.append(h('ul', { className: 'lp-problems' }, ...verdict.problems.map((problem) => h('li', { text: problem }))));
  }
  return block;
}

/** Which callbacks ran, as the server counted them at the eval's end ("link, link_error"). */
export function callbacksThatRan(events: readonly TimelineEvent[]): string[] | null {
  for (const event of events) if (event.kind === 'eval-finished') return event.data.callbacks;
  return null;
}

/**
 * A whole run: a status line, the lanes, the callbacks' replies, the verdict and
 * the mechanism. `update(null)` shows the empty state's words.
 */
export class RunDetails {
  readonly element: HTMLElement;
  readonly timeline = new Timeline();
  private readonly status = h('div', { className: 'lp-run-status', attrs: { 'data-role': 'run-status' } });
  private readonly lower = h('div', { className: 'lp-run-lower' });

  constructor(private readonly emptyText: string) {
    this.element = h('div', { className: 'lp-run', attrs: { 'data-role': 'run-view' } }, this.status, this.timeline.element, this.lower);
  }

  update(run: RunView | null): void {
    if (!run) {
      this.element.dataset.phase = 'none';
      this.status.replaceChildren(h('span', { className: 'lp-muted', text: 'no run yet' }));
      this.timeline.update([], { runId: null });
      this.lower.replaceChildren(h('p', { className: 'lp-muted lp-empty', text: this.emptyText }));
      return;
    }
    this.element.dataset.phase = run.phase;
    this.element.dataset.runId = run.id;
    const fault = run.summary?.fault;
    this.status.replaceChildren(h('span', { className: `lp-phase lp-phase-${run.phase}`, text: phaseText(run), attrs: { 'data-role': 'phase' } }));
    if (fault) this.status.append(h('span', { className: 'lp-run-fault', text: `fault: ${fault}`, attrs: { title: FAULT_LABELS[fault] } }));
    if (run.summary) this.status.append(h('span', { className: 'lp-run-release', text: `${run.summary.release} release` }));
    this.timeline.update(run.events, { live: run.phase === 'running', runId: run.id });

    const finished = run.phase === 'finished' || run.phase === 'failed';
    const ran = callbacksThatRan(run.events);
    const parts: (HTMLElement | null)[] = [
      ran
        ? h('div', { className: 'lp-ran', attrs: { 'data-role': 'callbacks-ran' } }, h('span', { className: 'lp-label-inline', text: 'callbacks that ran: ' }), h('strong', { text: ran.join(' + ') || 'none' }))
        : null,
      callbackList(run.events, { finished }),
      verdictBlock(run),
      run.summary?.mechanism
        ? h('p', { className: 'lp-mechanism', attrs: { 'data-role': 'mechanism' } }, h('span', { className: 'lp-label-inline', text: 'What fired: ' }), run.summary.mechanism)
        : null,
    ];
    this.lower.replaceChildren(...parts.filter((part): part is HTMLElement => part !== null));
  }

  refresh(): void {
    this.timeline.refresh();
  }
}
