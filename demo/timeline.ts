/**
 * A run's timeline as lanes: one row per process (server, worker-1, worker-2,
 * cleanup-job, redis, test-runner: only those that appear), x = time since the
 * run started. The two callbacks of one task show up in two different rows (link
 * as a cleanup job, link_error in the worker) and their releases' replies in the
 * redis row, so the audience sees them race.
 *
 * Drawn from `TimelineEvent[]` alone: the same renderer serves a live run (call
 * `update` with each new event) and the replay of a recorded one.
 *
 * Time axis: linear within each burst of activity; a silence longer than
 * `breakMs` (a stall check waiting for a lock to expire, a TTL running out) is
 * drawn as a narrow break labelled with its real length, so a 79 ms race and a
 * 1.5 s stall both fit one box. Events of one lane that would overlap are nudged
 * apart (order is always kept); same-kind events of a lane at the same moment
 * (four allocations at once) become one mark with a count.
 */
import type { TimelineEvent } from '../server/protocol.ts';
import { h } from './dom.ts';
import { formatDuration, releaseReplyOf, replyTone, verdictOf, type ReplyTone } from './runs.ts';

export interface TimelineOptions {
  /** Narrow columns: short lane names, smaller marks, no axis labels between the ends. */
  compact?: boolean;
  /** Time zero (epoch ms); the first drawn event's time when left out (a run's wait in the queue is not drawn). */
  startedAt?: number | null;
  /** The run is still playing: a "now" cursor at the right end. */
  live?: boolean;
  /** Silences longer than this are drawn as a break (ms). */
  breakMs?: number;
  /** Which run is drawn: a new one clears the words of the last mark pointed at. */
  runId?: string | null;
}

/** The lanes in the order the audience reads them: who asks, who works, what Redis says. */
const LANE_ORDER = ['server', 'eval-A', 'eval-B', 'eval-C', 'worker-*', 'cleanup-job', 'redis', 'test-runner'];

const SHORT_LANES: Record<string, string> = {
  server: 'srv',
  'cleanup-job': 'job',
  redis: 'redis',
  'test-runner': 'test',
  'eval-A': 'A',
  'eval-B': 'B',
  'eval-C': 'C',
};

export function laneLabel(lane: string, compact = false): string {
  if (!compact) return lane;
  const worker = /^worker-(\d+)$/.exec(lane);
  if (worker) return `w${worker[1]}`;
  return SHORT_LANES[lane] ?? lane.slice(0, 5);
}

function laneRank(lane: string): [number, number] {
  const worker = /^worker-(\d+)$/.exec(lane);
  if (worker) return [LANE_ORDER.indexOf('worker-*'), Number(worker[1])];
  const index = LANE_ORDER.indexOf(lane);
  return [index < 0 ? LANE_ORDER.length : index, 0];
}

export function orderLanes(lanes: Iterable<string>): string[] {
  return [...new Set(lanes)].sort((a, b) => {
    const [ra, na] = laneRank(a);
    const [rb, nb] = laneRank(b);
    return ra - rb || na - nb || a.localeCompare(b);
  });
}

/** What a mark looks like: its glyph and its tone (a CSS class). */
export interface MarkLook {
  glyph: string;
  tone: string;
  /** Marks the audience must see: replies, conflicts, deaths, callbacks. */
  strong: boolean;
}

/** Replies differ by shape as well as colour: released ●, already there ◉, a second copy ✚, nothing to do ○. */
const REPLY_GLYPHS: Record<ReplyTone, string> = { released: '●', already_in_pool: '◉', duplicate: '✚', not_busy: '○', stale_release: '⊘' };

export function markLook(event: TimelineEvent): MarkLook {
  const reply = releaseReplyOf(event);
  if (reply) {
    const tone = replyTone(reply);
    return { glyph: REPLY_GLYPHS[tone], tone: `reply-${tone}`, strong: true };
  }
  const verdict = verdictOf(event);
  if (verdict) return { glyph: verdict.sound ? '✓' : '✗', tone: verdict.sound ? 'good' : 'bad', strong: !verdict.sound };
  switch (event.kind) {
    case 'callback-started':
      return event.data.callback === 'link_error' ? { glyph: 'E', tone: 'link-error', strong: true } : { glyph: 'L', tone: 'link', strong: true };
    case 'conflict':
      return { glyph: '⚠', tone: 'bad', strong: true };
    case 'callback-fired':
      return event.data.callback === 'link_error' ? { glyph: 'E', tone: 'link-error', strong: true } : { glyph: 'L', tone: 'link', strong: true };
    case 'late-wait':
      return { glyph: '◔', tone: 'warn', strong: false };
    case 'history-check':
      return { glyph: event.data.sound ? '✓' : '✗', tone: event.data.sound ? 'good' : 'bad', strong: true };
    case 'worker-killed':
      return { glyph: '☠', tone: 'bad', strong: true };
    case 'kill-sent':
    case 'kill-requested':
      return { glyph: '✕', tone: 'warn', strong: false };
    case 'job-stalled':
    case 'lock-renewal-failed':
      return { glyph: '↻', tone: 'warn', strong: true };
    case 'event-loop-blocked':
      return { glyph: '‖', tone: 'warn', strong: false };
    case 'link-dispatched':
      return { glyph: '↗', tone: 'link', strong: false };
    case 'store-failed':
    case 'fail-store-failed':
    case 'callback-error':
    case 'worker-error':
      return { glyph: '⊘', tone: 'warn', strong: true };
    case 'job-failed':
      return { glyph: '■', tone: 'warn', strong: false };
    case 'job-completed':
      return { glyph: '■', tone: 'good', strong: false };
    case 'task-raised':
      return { glyph: '✗', tone: 'warn', strong: false };
    case 'allocate':
      return event.data.executor ? { glyph: '◆', tone: 'accent', strong: false } : { glyph: '◇', tone: 'muted', strong: false };
    case 'reclaimed':
      return { glyph: '↺', tone: 'good', strong: true };
    case 'ttl':
      return { glyph: '◔', tone: 'warn', strong: false };
    case 'test-result':
      return { glyph: event.data.passed ? '✓' : '✗', tone: event.data.passed ? 'good' : 'bad', strong: true };
    case 'captured-log':
      return { glyph: '❝', tone: 'warn', strong: true };
    case 'error':
      return { glyph: '✗', tone: 'bad', strong: true };
    case 'worker-restarting':
      return { glyph: '↓', tone: 'muted', strong: false };
    case 'worker-restarted':
      return { glyph: '↑', tone: 'muted', strong: false };
    case 'picked-up':
    case 'enqueued':
      return { glyph: '▸', tone: 'plain', strong: false };
    case 'task-ran':
      return { glyph: '▪', tone: 'plain', strong: false };
    default:
      return { glyph: '•', tone: 'muted', strong: false };
  }
}

// ---- Layout: pure, so it can be tested and replayed ----

export interface TimelineMark {
  lane: string;
  /** The events drawn as this mark (more than one: same lane, same kind, same moment). */
  events: TimelineEvent[];
  /** 0..1 across the plot. */
  x: number;
  /** ms since the run's start, of the first event. */
  t: number;
}

export interface TimelineLayout {
  lanes: string[];
  marks: TimelineMark[];
  /** Collapsed silences: where (0..1) and how long they really were. */
  breaks: { x: number; ms: number }[];
  /** ms from the start to the last event. */
  spanMs: number;
}

export interface LayoutOptions {
  startedAt?: number | null;
  /** Plot width in px: the unit of the spacing below. */
  width: number;
  /** Least distance between two marks of one lane (px). */
  minStep?: number;
  breakMs?: number;
  /** Width of a collapsed silence (px). */
  breakWidth?: number;
  /** The shortest span that fills the width (ms): a run's first events do not spread over the whole box. */
  minSpanMs?: number;
}

/** Kinds not drawn as marks. */
const HIDDEN_KINDS = new Set(['queued']);

/** Events within this many ms, of one lane and one kind, are drawn as one mark. */
const SAME_MOMENT_MS = 3;

export function layoutTimeline(events: readonly TimelineEvent[], options: LayoutOptions): TimelineLayout {
  const width = Math.max(1, options.width);
  const minStep = options.minStep ?? 9;
  const breakMs = options.breakMs ?? 250;
  const breakWidth = options.breakWidth ?? 16;
  const minSpanMs = options.minSpanMs ?? 100;
  // A run's `queued` event is the server's bookkeeping: the time a run waits behind
  // others on the stage is not part of its story.
  const shown = events.filter((event) => !HIDDEN_KINDS.has(event.kind));
  if (shown.length === 0) return { lanes: [], marks: [], breaks: [], spanMs: 0 };

  const start = options.startedAt ?? Math.min(...shown.map((event) => event.at));
  const bySeq = [...shown].sort((a, b) => a.seq - b.seq);

  // Group: one lane, one kind, one moment, nothing else of that lane in between.
  const open = new Map<string, TimelineMark>();
  const marks: TimelineMark[] = [];
  for (const event of bySeq) {
    const t = Math.max(0, event.at - start);
    const current = open.get(event.lane);
    const first = current?.events[0];
    if (current && first && first.kind === event.kind && event.kind !== 'release-reply' && Math.abs(t - current.t) <= SAME_MOMENT_MS) {
      current.events.push(event);
      continue;
    }
    const mark: TimelineMark = { lane: event.lane, events: [event], x: 0, t };
    open.set(event.lane, mark);
    marks.push(mark);
  }
  // Time order; the sequence breaks ties (and orders events of one process).
  marks.sort((a, b) => a.t - b.t || a.events[0]!.seq - b.events[0]!.seq);
  const spanMs = marks.at(-1)!.t;

  const place = (pxPerMs: number, commit: boolean) => {
    let cursor = 0;
    let previousT = 0;
    const lastInLane = new Map<string, number>();
    const breaks: { x: number; ms: number }[] = [];
    for (const mark of marks) {
      const gap = Math.max(0, mark.t - previousT);
      if (gap > breakMs) {
        if (commit) breaks.push({ x: cursor + breakWidth / 2, ms: gap });
        cursor += breakWidth;
      } else {
        cursor += gap * pxPerMs;
      }
      const last = lastInLane.get(mark.lane);
      if (last !== undefined) cursor = Math.max(cursor, last + minStep);
      lastInLane.set(mark.lane, cursor);
      if (commit) mark.x = cursor;
      previousT = mark.t;
    }
    return { total: cursor, breaks };
  };

  // The scale that fills the width: more px per ms spreads the bursts further.
  let low = 0;
  let high = width / minSpanMs;
  if (place(high, false).total > width) {
    for (let i = 0; i < 40; i++) {
      const middle = (low + high) / 2;
      if (place(middle, false).total > width) high = middle;
      else low = middle;
    }
  } else {
    low = high;
  }
  const { total, breaks } = place(low, true);
  // Too many marks of one lane even at zero scale: squeeze everything (marks may touch).
  const scale = total > width ? width / total : 1;
  for (const mark of marks) mark.x = (mark.x * scale) / width;
  for (const item of breaks) item.x = (item.x * scale) / width;

  return { lanes: orderLanes(marks.map((mark) => mark.lane)), marks, breaks, spanMs };
}

// ---- DOM ----

const DETAIL_HINT = 'Point at (or tap) a mark to read what happened.';

/** Fallback plot widths (px) while the panel is not laid out (a slide not yet shown). */
const FALLBACK_WIDTH = { normal: 330, compact: 96 };

export class Timeline {
  readonly element: HTMLElement;
  private readonly grid: HTMLElement;
  private readonly axis: HTMLElement;
  private readonly detail: HTMLElement;
  private events: readonly TimelineEvent[] = [];
  private options: TimelineOptions;
  private readonly textOf = new Map<HTMLElement, string>();

  constructor(options: TimelineOptions = {}) {
    this.options = options;
    this.grid = h('div', { className: 'lp-tl-grid' });
    this.axis = h('div', { className: 'lp-tl-axis' });
    this.detail = h('div', { className: 'lp-tl-detail', text: DETAIL_HINT, attrs: { 'data-role': 'timeline-detail', 'aria-live': 'polite' } });
    this.element = h('div', { className: options.compact ? 'lp-tl lp-tl-compact' : 'lp-tl', attrs: { 'data-role': 'timeline' } }, this.grid, this.axis);
    if (!options.compact) this.element.append(this.detail);
    // Hover (a mouse on the projector) or tap (a phone): the mark's words under the lanes.
    const show = (event: Event) => {
      const mark = (event.target as Element | null)?.closest?.('.lp-tl-mark');
      if (mark instanceof HTMLElement && this.textOf.has(mark)) {
        this.detail.textContent = this.textOf.get(mark) ?? '';
        this.detail.classList.add('lp-tl-detail-on');
      }
    };
    this.element.addEventListener('mouseover', show);
    this.element.addEventListener('click', show);
  }

  update(events: readonly TimelineEvent[], options: TimelineOptions = this.options): void {
    if ((options.runId ?? null) !== (this.options.runId ?? null)) {
      this.detail.textContent = DETAIL_HINT;
      this.detail.classList.remove('lp-tl-detail-on');
    }
    this.events = events;
    this.options = { ...options, compact: this.options.compact };
    this.draw();
  }

  /** Lays out again at the current size (after the panel was enlarged, or first shown). */
  refresh(): void {
    this.draw();
  }

  private draw(): void {
    const compact = this.options.compact === true;
    const measured = this.grid.querySelector<HTMLElement>('.lp-tl-track')?.clientWidth ?? 0;
    const width = measured > 20 ? measured - (compact ? 6 : 12) : compact ? FALLBACK_WIDTH.compact : FALLBACK_WIDTH.normal;
    const layout = layoutTimeline(this.events, {
      startedAt: this.options.startedAt ?? null,
      width,
      minStep: compact ? 5 : 10,
      breakWidth: compact ? 8 : 18,
      breakMs: this.options.breakMs ?? 250,
    });
    this.textOf.clear();
    this.element.dataset.lanes = layout.lanes.join(' ');
    this.element.classList.toggle('lp-tl-live', this.options.live === true);

    if (layout.lanes.length === 0) {
      this.grid.replaceChildren(h('div', { className: 'lp-tl-empty', text: 'no events yet' }));
      this.axis.replaceChildren();
      return;
    }

    const rows = layout.lanes.map((lane) => {
      const inner = h('div', { className: 'lp-tl-inner' });
      for (const item of layout.breaks) {
        inner.append(h('span', { className: 'lp-tl-break', attrs: { style: `left:${(item.x * 100).toFixed(2)}%`, 'aria-hidden': 'true' } }));
      }
      for (const mark of layout.marks) if (mark.lane === lane) inner.append(this.markElement(mark));
      return h(
        'div',
        { className: 'lp-tl-lane', attrs: { 'data-lane': lane } },
        h('span', { className: 'lp-tl-name', text: laneLabel(lane, compact), attrs: { title: lane } }),
        h('div', { className: 'lp-tl-track' }, inner),
      );
    });
    this.grid.replaceChildren(...rows);

    // The axis: 0, each collapsed silence's real length, and the span so far.
    const ticks = h('div', { className: 'lp-tl-inner' });
    ticks.append(h('span', { className: 'lp-tl-tick lp-tl-tick-start', text: '0' }));
    if (!compact) {
      // A silence's length under its cut, unless it would run into the ends' labels or the previous one.
      const room = 46 / Math.max(width, 1);
      let lastX = room / 2;
      for (const item of layout.breaks) {
        if (item.x - lastX < room || item.x > 1 - room * 1.3) continue;
        lastX = item.x;
        ticks.append(h('span', { className: 'lp-tl-tick lp-tl-tick-break', text: `+${formatDuration(item.ms)}`, attrs: { style: `left:${(item.x * 100).toFixed(2)}%` } }));
      }
    }
    ticks.append(h('span', { className: 'lp-tl-tick lp-tl-tick-end', text: formatDuration(layout.spanMs) }));
    this.axis.replaceChildren(h('span', { className: 'lp-tl-name', text: compact ? '' : 'time' }), h('div', { className: 'lp-tl-track' }, ticks));
  }

  private markElement(mark: TimelineMark): HTMLElement {
    const first = mark.events[0]!;
    const look = markLook(first);
    const count = mark.events.length;
    const element = h(
      'span',
      {
        className: `lp-tl-mark lp-tone-${look.tone}${look.strong ? ' lp-tl-strong' : ''}`,
        text: look.glyph,
        attrs: {
          style: `left:${(mark.x * 100).toFixed(2)}%`,
          'data-kind': first.kind,
          'data-seq': String(first.seq),
          ...(first.kind === 'callback-started' ? { 'data-callback': first.data.callback } : {}),
          ...(first.kind === 'release-reply'
            ? { 'data-status': first.data.status, 'data-reply-of': first.data.callback, 'data-tone': replyTone(first.data) }
            : {}),
        },
      },
      count > 1 ? h('sup', { className: 'lp-tl-count', text: `×${count}` }) : null,
    );
    const process = first.pid ? `${first.lane} (pid ${first.pid})` : first.lane;
    const text = `+${formatDuration(mark.t)} · ${process}: ${mark.events.map((event) => event.text).join(' | ')}`;
    element.title = text;
    this.textOf.set(element, text);
    return element;
  }
}
