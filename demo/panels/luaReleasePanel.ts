/**
 * "The Lua Script Solution": the pool as Redis holds it, and buttons that run the
 * real scripts against it. Allocate takes an executor (RPOP + busy marker with a
 * TTL); "Double release" sends both callbacks' releases back to back, and the two
 * replies of release_executor.lua show, exactly as Redis returned them, why the
 * executor still ends up in the list once.
 *
 * Nothing here is computed in the browser but the TTL countdown between two
 * snapshots: every list, marker, owner and reply comes from the server, and
 * every viewer's clicks reach every other viewer (in `pool:changed`, with the snapshot they made).
 */
import type { AllocateReply, ApiError, DoubleReleaseWarning, PoolAction, PoolSnapshot, ReleaseReply } from '../../server/protocol.ts';
import type { Connection, LocalFailure } from '../connection.ts';
import { actionButton, formatClock, formatTtl, h } from '../dom.ts';
import { commonFailureText } from '../failures.ts';
import { PanelFrame } from '../frame.ts';
import type { PanelContext, PanelController, PanelOptions } from '../panel.ts';
import { CountdownTicker } from '../ticker.ts';

const DEFAULT_POOL = 'main';
/** How many log lines are kept; the box shows the newest that fit. */
const LOG_SIZE = 30;
/** Countdown refresh while the slide is on screen: often enough that seconds tick evenly. */
const TICK_MS = 250;

/** One click on the pool, by this viewer or another, as the server announced or acknowledged it. */
interface ActionEntry {
  key: string;
  action: PoolAction;
  /** This viewer clicked it; known at once for allocations (our eval id), on the Ack for releases. */
  mine: boolean;
  /** For releases: which button (one release or both callbacks). */
  label: string;
}

type LogItem =
  | { kind: 'action'; entry: ActionEntry; at: number }
  | { kind: 'warning'; warning: DoubleReleaseWarning; at: number }
  | { kind: 'note'; text: string; at: number };

interface ExecutorRow {
  row: HTMLButtonElement;
  state: HTMLElement;
  owner: HTMLElement;
  ttl: HTMLElement;
}

export class LuaReleasePanel implements PanelController {
  private readonly connection: Connection;
  private frame: PanelFrame | null = null;
  private pool = DEFAULT_POOL;
  private readonly unsubscribers: (() => void)[] = [];
  private unsubscribeConnect: (() => void) | null = null;

  // What Redis said last, and when it reached us (the countdown's zero).
  private snapshot: PoolSnapshot | null = null;
  private receivedAt = 0;
  private watching = false;

  // The executor the release buttons act on.
  private target: string | null = null;
  private targetPinned = false;
  private lastAllocated: string | null = null;
  /** Once this viewer allocates, other viewers' allocations no longer move its target. */
  private lastAllocatedMine = false;

  private readonly myEvalIds = new Set<string>();
  private readonly entries = new Map<string, ActionEntry>();
  private latest: ActionEntry | null = null;
  private log: LogItem[] = [];
  private errorText = '';
  private readonly ticker = new CountdownTicker(TICK_MS, () => this.renderTtls());

  // The panel's elements: made with it, put together and into the slide by render(),
  // then only their text and attributes change.
  private readonly available = h('div', { className: 'lp-chips', attrs: { 'data-role': 'available', 'aria-label': 'available list' } });
  private readonly executors = h('div', { className: 'lp-executors', attrs: { role: 'radiogroup', 'aria-label': 'executor to release', 'data-role': 'executors' } });
  private readonly rows = new Map<string, ExecutorRow>();
  private readonly error = h('div', { className: 'lp-error', attrs: { role: 'alert', 'data-role': 'error' } });
  private readonly repliesTitle = h('div', { className: 'lp-label' });
  private readonly replies = h('div', { className: 'lp-replies-body' });
  private readonly logList = h('ol', { className: 'lp-log', attrs: { role: 'log', 'aria-live': 'polite', 'data-role': 'log' } });
  private readonly allocateButton = actionButton('Allocate', () => void this.allocate());
  private readonly releaseButton = actionButton('Release once', () => void this.release('pool:release'));
  private readonly doubleButton = actionButton('Double release', () => void this.release('pool:double-release'), 'lp-button lp-button-danger');

  constructor(private readonly context: PanelContext) {
    this.connection = context.connection();
  }

  render(): void {
    this.frame = new PanelFrame(this.context.element, this.connection, { title: 'Executor pool' });
    this.frame.body.append(
      h(
        'div',
        { className: 'lp-section' },
        h('div', { className: 'lp-label' }, h('span', { text: 'available list' }), h('span', { className: 'lp-hint', text: 'LPUSH → head … tail → RPOP' })),
        this.available,
      ),
      h(
        'div',
        { className: 'lp-section' },
        h('div', { className: 'lp-label' }, h('span', { text: 'executors' }), h('span', { className: 'lp-hint', text: 'pick one to release' })),
        this.executors,
      ),
      h('div', { className: 'lp-actions' }, this.allocateButton, this.releaseButton, this.doubleButton),
      this.error,
      h('div', { className: 'lp-replies', attrs: { 'data-role': 'replies', 'aria-live': 'polite' } }, this.repliesTitle, this.replies),
      this.logList,
    );
    this.frame.render();

    this.unsubscribers.push(
      this.connection.onState(() => this.renderControls()),
      this.connection.on('pool:changed', (change) => {
        if (change.pool !== this.pool) return;
        this.applySnapshot(change);
        for (const action of change.actions) this.recordAction(action, false);
        for (const warning of change.doubleReleases) this.addLog({ kind: 'warning', warning, at: warning.at });
      }),
    );
    this.renderAll();
  }

  configure(options: PanelOptions): void {
    const pool = options.pool || DEFAULT_POOL;
    const changed = pool !== this.pool;
    this.pool = pool;
    this.frame?.configure({ title: 'Executor pool', subtitle: `${pool} · live from Redis` });
    if (changed) {
      this.snapshot = null;
      this.entries.clear();
      this.latest = null;
      this.log = [];
      this.renderAll();
    }
    // Subscribe on every connect: a reconnect is a new socket in no room, and a viewer
    // who joins (or returns) late must see the pool as it is now, not wait for a change.
    this.unsubscribeConnect?.();
    this.unsubscribeConnect = this.connection.onConnect((reconnect) => void this.watch(reconnect));
  }

  update(): void {
    this.frame?.update();
    this.renderControls();
    this.renderTtls();
    this.syncTicker();
  }

  destroy(): void {
    this.unsubscribeConnect?.();
    this.unsubscribeConnect = null;
    for (const unsubscribe of this.unsubscribers.splice(0)) unsubscribe();
    this.ticker.stop();
    this.frame?.destroy();
    this.frame = null;
  }

  // ---- Talking to the server ----

  private async watch(reconnect: boolean): Promise<void> {
    this.watching = false;
    const pool = this.pool;
    const result = await this.connection.request('pool:watch', { pool });
    if (pool !== this.pool) return;
    if (!result.ok) {
      this.showError(`Cannot show pool "${pool}": ${describe(result)}`);
      return;
    }
    this.watching = true;
    if (reconnect) this.addLog({ kind: 'note', text: 'reconnected: pool re-read from Redis', at: Date.now() });
    // The watch's snapshot is the authority on (re)connect, whatever came before it.
    this.applySnapshot(result.data, true);
    if (this.errorText.startsWith('Cannot show pool')) this.showError('');
  }

  private async allocate(): Promise<void> {
    const evalId = `eval-${randomId()}`;
    this.myEvalIds.add(evalId);
    // A new allocation is what the presenter means to release next.
    this.targetPinned = false;
    const result = await this.connection.request('pool:allocate', { evalId, pool: this.pool });
    if (!result.ok) {
      this.myEvalIds.delete(evalId);
      this.showError(describe(result));
      return;
    }
    this.showError('');
    this.recordAction({ kind: 'allocated', pool: this.pool, allocation: result.data, at: Date.now() }, true);
  }

  private async release(event: 'pool:release' | 'pool:double-release'): Promise<void> {
    const executor = this.target;
    if (!executor) return;
    const pool = this.pool;
    const result = await this.connection.request(event, { executor, pool });
    if (!result.ok) {
      this.showError(describe(result));
      return;
    }
    this.showError('');
    const releases: ReleaseReply[] = Array.isArray(result.data) ? result.data : [result.data];
    this.recordAction({ kind: 'released', pool, releases, at: Date.now() }, true);
  }

  // ---- State ----

  private applySnapshot(snapshot: PoolSnapshot, authoritative = false): void {
    // Two reads can cross on the way (the watch's and a change's): keep the newer.
    if (!authoritative && this.snapshot && snapshot.readAt < this.snapshot.readAt) return;
    this.snapshot = snapshot;
    // readAt is the server's clock, which a phone's may disagree with by seconds; the TTLs
    // count down from the moment the snapshot arrived here (network delay: a few ms).
    this.receivedAt = Date.now();
    this.chooseTarget();
    this.renderPool();
    this.renderControls();
    this.syncTicker();
  }

  /**
   * Records a click: once, whether our own Ack or the server's broadcast of it (in
   * `pool:changed`) arrives first. The Ack usually wins (the server answers before it
   * fans out); a late broadcast of our own click then changes nothing.
   */
  private recordAction(action: PoolAction, fromOwnAck: boolean): void {
    const key = actionKey(action);
    const known = this.entries.get(key);
    if (known) {
      if (fromOwnAck && !known.mine) {
        known.mine = true;
        this.renderReplies();
        this.renderLog();
      }
      return;
    }
    const mine = fromOwnAck || (action.kind === 'allocated' && this.myEvalIds.has(action.allocation.evalId));
    const entry: ActionEntry = { key, action, mine, label: actionLabel(action) };
    this.entries.set(key, entry);
    if (this.entries.size > LOG_SIZE * 2) this.entries.delete(this.entries.keys().next().value as string);
    this.latest = entry;
    if (action.kind === 'allocated' && (mine || !this.lastAllocatedMine)) {
      this.lastAllocated = action.allocation.executor;
      this.lastAllocatedMine = mine;
      this.chooseTarget();
      this.renderPool();
    }
    if (action.kind === 'reset') {
      this.lastAllocated = null;
      this.lastAllocatedMine = false;
      this.targetPinned = false;
    }
    this.addLog({ kind: 'action', entry, at: action.at });
    this.renderReplies();
    this.renderControls();
  }

  /**
   * The executor the buttons act on: the viewer's pick, else the one it allocated last
   * (or, before it allocates anything, the one anybody allocated last), else a busy one.
   */
  private chooseTarget(): void {
    const executors = this.snapshot?.executors ?? [];
    const has = (url: string | null): url is string => url !== null && executors.includes(url);
    if (this.targetPinned && has(this.target)) return;
    this.targetPinned = false;
    const busy = executors.find((url) => this.snapshot?.busy[url] !== undefined) ?? null;
    this.target = has(this.lastAllocated) ? this.lastAllocated : has(busy) ? busy : (executors[0] ?? null);
  }

  private pick(executor: string): void {
    this.target = executor;
    this.targetPinned = true;
    this.renderPool();
    this.renderControls();
  }

  private addLog(item: LogItem): void {
    this.log.unshift(item);
    this.log.length = Math.min(this.log.length, LOG_SIZE);
    this.renderLog();
  }

  private showError(text: string): void {
    this.errorText = text;
    this.error.textContent = text;
    this.error.hidden = text === '';
  }

  // ---- Rendering ----

  private renderAll(): void {
    this.renderPool();
    this.renderControls();
    this.renderReplies();
    this.renderLog();
    this.showError(this.errorText);
  }

  private renderPool(): void {
    const snapshot = this.snapshot;
    if (!snapshot) {
      this.available.replaceChildren(h('span', { className: 'lp-muted', text: 'reading Redis…' }));
      this.executors.replaceChildren();
      this.rows.clear();
      return;
    }

    const counts = new Map<string, number>();
    for (const url of snapshot.available) counts.set(url, (counts.get(url) ?? 0) + 1);

    // The list in Redis order, one chip per entry: a duplicate shows twice, in red.
    this.available.replaceChildren(
      ...(snapshot.available.length === 0
        ? [h('span', { className: 'lp-muted', text: 'empty: every executor is out' })]
        : snapshot.available.map((url) =>
            h('span', {
              className: (counts.get(url) ?? 0) > 1 ? 'lp-chip lp-dup' : 'lp-chip',
              text: url,
              attrs: { 'data-executor': url, ...((counts.get(url) ?? 0) > 1 ? { title: 'in the list more than once' } : {}) },
            }),
          )),
    );

    // Rows are kept per executor, so a keyboard user's focus survives each snapshot.
    for (const [url, row] of this.rows) {
      if (!snapshot.executors.includes(url)) {
        row.row.remove();
        this.rows.delete(url);
      }
    }
    snapshot.executors.forEach((url, index) => {
      const row = this.rows.get(url) ?? this.createRow(url);
      if (this.executors.children[index] !== row.row) this.executors.insertBefore(row.row, this.executors.children[index] ?? null);
      const inList = counts.get(url) ?? 0;
      const owner = snapshot.busy[url];
      const [state, tone] = executorState(owner !== undefined, inList);
      row.state.textContent = state;
      row.row.dataset.state = tone;
      row.owner.textContent = owner ?? '';
      const selected = url === this.target;
      row.row.setAttribute('aria-checked', String(selected));
      row.row.tabIndex = selected || (this.target === null && index === 0) ? 0 : -1;
    });
    this.renderTtls();
  }

  private createRow(url: string): ExecutorRow {
    const state = h('span', { className: 'lp-state' });
    const owner = h('span', { className: 'lp-owner' });
    const ttl = h('span', { className: 'lp-ttl' });
    const row = h(
      'button',
      { className: 'lp-row', attrs: { type: 'button', role: 'radio', 'data-executor': url } },
      h('span', { className: 'lp-radio', attrs: { 'aria-hidden': 'true' } }),
      h('span', { className: 'lp-name', text: url }),
      state,
      owner,
      ttl,
    );
    row.addEventListener('click', (event) => {
      if (event.detail > 0) row.blur();
      this.pick(url);
    });
    row.addEventListener('keydown', (event) => this.onRowKey(event, url));
    const created = { row, state, owner, ttl };
    this.rows.set(url, created);
    return created;
  }

  /** Arrow keys move the pick within the group, as in any radio group (and stop reveal from changing slide). */
  private onRowKey(event: KeyboardEvent, url: string): void {
    const step = event.key === 'ArrowDown' || event.key === 'ArrowRight' ? 1 : event.key === 'ArrowUp' || event.key === 'ArrowLeft' ? -1 : 0;
    const executors = this.snapshot?.executors ?? [];
    if (step === 0 || executors.length === 0) return;
    event.preventDefault();
    event.stopPropagation();
    const next = executors[(executors.indexOf(url) + step + executors.length) % executors.length]!;
    this.pick(next);
    this.rows.get(next)?.row.focus();
  }

  /** TTLs: PTTL from Redis at read time, minus the time since the snapshot arrived. */
  private renderTtls(): number {
    const snapshot = this.snapshot;
    let ticking = 0;
    for (const [url, row] of this.rows) {
      const ttl = snapshot?.busyTtlMs[url];
      if (ttl === undefined || snapshot?.busy[url] === undefined) {
        row.ttl.textContent = '';
        continue;
      }
      if (ttl < 0) {
        row.ttl.textContent = ttl === -1 ? 'no TTL' : 'expired';
        continue;
      }
      const left = ttl - (Date.now() - this.receivedAt);
      row.ttl.textContent = left > 0 ? formatTtl(left) : 'expiring';
      row.ttl.title = `TTL of the busy marker (PTTL ${ttl} ms when read)`;
      if (left > 0) ticking++;
    }
    return ticking;
  }

  private renderControls(): void {
    const live = this.connection.connected && this.watching;
    const canRelease = live && this.target !== null;
    this.allocateButton.disabled = !live;
    this.releaseButton.disabled = !canRelease;
    this.doubleButton.disabled = !canRelease;
    const on = this.target ? ` ${this.target}` : '';
    this.releaseButton.title = `Release${on} once (pool:release)`;
    this.doubleButton.title = `Release${on} twice at once, as link and link_error would (pool:double-release)`;
    this.allocateButton.title = 'Take an executor for a new eval id (pool:allocate)';
  }

  private renderReplies(): void {
    const entry = this.latest;
    if (!entry) {
      this.repliesTitle.replaceChildren(h('span', { text: 'script replies' }));
      this.replies.replaceChildren(h('span', { className: 'lp-muted', text: 'Allocate, then release: the replies of Redis show here.' }));
      return;
    }
    this.repliesTitle.replaceChildren(
      h('span', { text: entry.label }),
      h('span', { className: entry.mine ? 'lp-who lp-who-me' : 'lp-who', text: entry.mine ? 'you' : 'another viewer' }),
    );
    const action = entry.action;
    if (action.kind === 'allocated') {
      this.replies.replaceChildren(...allocationLines(action.allocation));
    } else if (action.kind === 'released') {
      this.replies.replaceChildren(...action.releases.map(replyLine));
    } else {
      this.replies.replaceChildren(h('div', { text: `pool reset: ${action.size} executors, all available` }));
    }
  }

  private renderLog(): void {
    this.logList.replaceChildren(...this.log.map(logLine));
  }

  private syncTicker(): void {
    this.ticker.sync(this.context.isVisible(), this.snapshot);
  }
}

// ---- Pure helpers: words and lines from what the server sent ----

function randomId(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(4));
  return [...bytes].map((byte) => byte.toString(16).padStart(2, '0')).join('');
}

function actionKey(action: PoolAction): string {
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

function actionLabel(action: PoolAction): string {
  switch (action.kind) {
    case 'allocated':
      return 'allocate';
    case 'released':
      return `${action.releases.length > 1 ? 'double release' : 'release'} ${action.releases[0]?.executor ?? ''}`;
    case 'reset':
      return 'reset';
  }
}

function executorState(busy: boolean, inList: number): [string, string] {
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
const MEANING: Record<string, string> = {
  released: 'was busy, not listed: pushed back',
  already_in_pool: 'already listed: nothing added',
  not_busy: 'not busy, not listed: nothing to give back',
  stale_release: "not this owner's token: nothing changed",
};

function replyLine(release: ReleaseReply): HTMLElement {
  return h(
    'div',
    { className: 'lp-reply', attrs: { 'data-kind': 'release', 'data-status': release.status, 'data-executor': release.executor } },
    h('span', { className: `lp-status lp-status-${release.status}`, text: release.status }),
    h('span', { className: 'lp-meaning', text: MEANING[release.status] ?? '' }),
    tuple(release.reply),
  );
}

function allocationLines(allocation: AllocateReply): HTMLElement[] {
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

function logLine(item: LogItem): HTMLElement {
  const time = h('span', { className: 'lp-time', text: formatClock(item.at) });
  if (item.kind === 'warning') {
    const { warning } = item;
    return h('li', { className: 'lp-log-warning' }, time, `⚠ ${warning.message}: ${warning.executor}, ${warning.sinceLastReleaseMs} ms apart`);
  }
  if (item.kind === 'note') return h('li', { className: 'lp-log-note' }, time, item.text);
  const { entry } = item;
  const who = entry.mine ? 'you' : 'viewer';
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
function describe(failure: ApiError | LocalFailure): string {
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
