/**
 * The pool as Redis holds it: the available list in Redis order (a duplicate
 * shows twice, in red) and one row per executor, with its state, owner and the
 * TTL of its busy marker counting down. The rows are a radio group: the one
 * picked is what the release buttons act on.
 */
import type { PoolSnapshot } from '../../../server/protocol.ts';
import { formatTtl, h } from '../../dom.ts';
import { executorState } from './replies.ts';

interface ExecutorRow {
  row: HTMLButtonElement;
  state: HTMLElement;
  owner: HTMLElement;
  ttl: HTMLElement;
}

export class PoolView {
  readonly available = h('div', { className: 'lp-chips', attrs: { 'data-role': 'available', 'aria-label': 'available list' } });
  readonly executors = h('div', { className: 'lp-executors', attrs: { role: 'radiogroup', 'aria-label': 'executor to release', 'data-role': 'executors' } });
  private readonly rows = new Map<string, ExecutorRow>();
  private snapshot: PoolSnapshot | null = null;
  /** When the snapshot arrived, on `clock`: its TTLs count down from there. */
  private receivedAt = 0;

  constructor(
    /** The viewer picked an executor. */
    private readonly onPick: (executor: string) => void,
    /** Now, on the clock the TTLs count down by (the page's, or a replay's). */
    private readonly clock: () => number,
  ) {}

  show(snapshot: PoolSnapshot | null, receivedAt: number, target: string | null): void {
    this.snapshot = snapshot;
    this.receivedAt = receivedAt;
    if (!snapshot) {
      this.available.replaceChildren(h('span', { className: 'lp-muted', text: 'reading Redis…' }));
      this.executors.replaceChildren();
      this.rows.clear();
      return;
    }
    const counts = new Map<string, number>();
    for (const url of snapshot.available) counts.set(url, (counts.get(url) ?? 0) + 1);

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
      const owner = snapshot.busy[url];
      const [state, tone] = executorState(owner !== undefined, counts.get(url) ?? 0);
      row.state.textContent = state;
      row.row.dataset.state = tone;
      row.owner.textContent = owner ?? '';
      const selected = url === target;
      row.row.setAttribute('aria-checked', String(selected));
      row.row.tabIndex = selected || (target === null && index === 0) ? 0 : -1;
    });
    this.renderTtls();
  }

  /** TTLs: PTTL from Redis at read time, minus the time since the snapshot arrived. Returns how many still tick. */
  renderTtls(): number {
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
      const left = ttl - (this.clock() - this.receivedAt);
      row.ttl.textContent = left > 0 ? formatTtl(left) : 'expiring';
      row.ttl.title = `TTL of the busy marker (PTTL ${ttl} ms when read)`;
      if (left > 0) ticking++;
    }
    return ticking;
  }

  focus(executor: string): void {
    this.rows.get(executor)?.row.focus();
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
      this.onPick(url);
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
    this.onPick(next);
    this.focus(next);
  }
}
