/**
 * "Defense in Depth", three of its layers live (layer 1, the idempotent release,
 * has its own slide):
 *  - Layer 2, the TTL safety net: a run of `ttl-safety-net` kills a worker before
 *    any callback; the panel watches that scenario's pool and shows the busy
 *    marker's TTL counting down (PTTL from the snapshot, counted down locally
 *    between snapshots) until the reaper puts the executor back (`reclaimed`).
 *  - Layer 3, metrics and monitoring: every "Double release detected" warning of
 *    the demo pools as it happens (carried by each pool's `pool:changed`, sent per
 *    pool room, so the panel watches each pool), and the counter `idem_double_releases_total`
 *    read from GET /metrics/double-releases (the one counter, public; the full /metrics is the presenter's).
 *  - Layer 4, atomic allocation: a run of `atomic-allocation`, a burst of
 *    allocations at once; asked / granted / distinct are counted from the run's
 *    `allocate` events.
 */
import type { DoubleReleaseWarning, PoolSnapshot, ScenarioName, TimelineEvent } from '../../server/protocol.ts';
import { actionButton, formatClock, formatTtl, h, showWholeLines } from '../dom.ts';
import type { PanelContext, PanelOptions } from '../panel.ts';
import { RunPanel, underWay, type ReplayPlan } from '../runPanel.ts';
import { PHASE_LABELS, describeFailure, parseDoubleReleases, type RunView } from '../runs.ts';
import { VERDICT_HEADS, phaseText } from '../runView.ts';
import { CountdownTicker } from '../ticker.ts';
import { markLook } from '../timeline.ts';
import '../runs.css';

const TTL_SCENARIO: ScenarioName = 'ttl-safety-net';
const BURST_SCENARIO: ScenarioName = 'atomic-allocation';
const TTL_POOL = 'ttl-safety-net';
/** The pools whose double-release warnings the log shows: the Lua slide's and every scenario's. */
const WARNING_POOLS = ['main', 'innocent-pattern', 'attempt-1', 'attempt-2', 'attempt-3', 'edge-case-test', 'ttl-safety-net', 'atomic-allocation'];
const LOG_SIZE = 20;
const TICK_MS = 100;
/** The steps of a TTL run worth a line. */
const TTL_STEPS = new Set(['worker-killed', 'ttl', 'reclaimed', 'error']);

export class DefensePanel extends RunPanel {
  private unsubscribeConnect: (() => void) | null = null;

  private snapshot: PoolSnapshot | null = null;
  private receivedAt = 0;
  private ttlRun: RunView | null = null;
  private burstRun: RunView | null = null;
  private warnings: DoubleReleaseWarning[] = [];
  private doubleReleases: { total: number; byPool: Record<string, number> } | null = null;
  private metricsTimer: ReturnType<typeof setTimeout> | null = null;
  private readonly ticker = new CountdownTicker(TICK_MS, () => this.renderTtls());

  private readonly ttlButton = actionButton('☠ Kill a worker', () => void this.startRuns(TTL_SCENARIO, [{ scenario: TTL_SCENARIO }]));
  private readonly burstButton = actionButton('⚡ Burst of 24', () => void this.startRuns(BURST_SCENARIO, [{ scenario: BURST_SCENARIO }]));
  private readonly ttlPhase = h('span', { className: 'lp-phase', attrs: { 'data-role': 'phase' } });
  private readonly executors = h('div', { className: 'lp-ttl-executors', attrs: { 'data-role': 'ttl-executors' } });
  private readonly ttlSteps = h('ol', { className: 'lp-ttl-steps', attrs: { 'data-role': 'ttl-steps' } });
  private readonly counter = h('span', { className: 'lp-counter', attrs: { 'data-role': 'double-release-count' } });
  private readonly warningLog = h('ol', { className: 'lp-log lp-warning-log', attrs: { role: 'log', 'aria-live': 'polite', 'data-role': 'warnings' } });
  private readonly burstPhase = h('span', { className: 'lp-phase', attrs: { 'data-role': 'phase' } });
  private readonly burstResult = h('div', { className: 'lp-burst', attrs: { 'data-role': 'burst' } });

  constructor(context: PanelContext) {
    super(context, { title: 'Defense in depth', subtitle: 'layers 2-4, live', replaySubtitle: 'layers 2-4, recorded', classes: ['lp-defense'] });
    this.ttlButton.dataset.role = 'run-ttl';
    this.ttlButton.title = 'Kill a worker before it dispatches any callback: only the busy marker TTL can return the executor (run:start ttl-safety-net)';
    this.burstButton.dataset.role = 'run-burst';
    this.burstButton.title = '24 evals ask for an executor at once (run:start atomic-allocation)';
  }

  protected replayPlan(): ReplayPlan {
    // The two layers are independent: their recordings play side by side.
    return { runs: [{ scenario: TTL_SCENARIO }, { scenario: BURST_SCENARIO }], sequential: false };
  }

  protected content(): HTMLElement[] {
    return [
      this.error.element,
      h(
        'div',
        { className: 'lp-layer', attrs: { role: 'group', 'aria-label': 'Layer 2: TTL safety net', 'data-layer': '2' } },
        h('div', { className: 'lp-layer-head' }, h('span', { className: 'lp-layer-name', text: 'Layer 2 · TTL safety net' }), this.ttlPhase, this.ttlButton),
        this.executors,
        this.ttlSteps,
      ),
      h(
        'div',
        { className: 'lp-layer', attrs: { role: 'group', 'aria-label': 'Layer 3: monitoring', 'data-layer': '3' } },
        h('div', { className: 'lp-layer-head' }, h('span', { className: 'lp-layer-name', text: 'Layer 3 · monitoring' }), this.counter),
        this.warningLog,
      ),
      h(
        'div',
        { className: 'lp-layer', attrs: { role: 'group', 'aria-label': 'Layer 4: atomic allocation', 'data-layer': '4' } },
        h('div', { className: 'lp-layer-head' }, h('span', { className: 'lp-layer-name', text: 'Layer 4 · atomic allocation' }), this.burstPhase, this.burstButton),
        this.burstResult,
      ),
    ];
  }

  override render(): void {
    super.render();
    this.unsubscribers.push(
      this.connection.on('pool:changed', (change) => {
        if (change.pool === TTL_POOL) this.applySnapshot(change);
        for (const warning of change.doubleReleases) this.addWarning(warning);
      }),
    );
    this.unsubscribers.push(showWholeLines(this.warningLog));
    this.renderPool();
    this.renderWarnings();
  }

  override configure(_options: PanelOptions): void {
    // Every (re)connect is a new socket in no room: watch the pools again.
    this.unsubscribeConnect?.();
    this.unsubscribeConnect = this.connection.onConnect(() => void this.watchPools());
  }

  override update(): void {
    super.update();
    this.renderPool();
    this.syncTicker();
  }

  override destroy(): void {
    this.unsubscribeConnect?.();
    this.unsubscribeConnect = null;
    this.ticker.stop();
    if (this.metricsTimer) clearTimeout(this.metricsTimer);
    this.metricsTimer = null;
    super.destroy();
  }

  // ---- Talking to the server ----

  private async watchPools(): Promise<void> {
    const results = await Promise.all(WARNING_POOLS.map((pool) => this.connection.request('pool:watch', { pool }).then((result) => ({ pool, result }))));
    for (const { pool, result } of results) {
      if (pool !== TTL_POOL) continue;
      if (result.ok) {
        this.applySnapshot(result.data, true);
        this.error.showFeedError('');
      } else {
        this.error.showFeedError(`Cannot show pool "${pool}": ${describeFailure(result)}`);
      }
    }
    this.refreshMetrics();
  }

  /** Reads the counter from GET /metrics/double-releases, soon (several warnings in a row cost one read). */
  private refreshMetrics(): void {
    if (this.metricsTimer) return;
    this.metricsTimer = setTimeout(() => {
      this.metricsTimer = null;
      void this.readMetrics();
    }, 250);
  }

  private async readMetrics(): Promise<void> {
    try {
      // The full /metrics is the presenter's; this one counter is public, so every phone shows it.
      const response = await fetch('/metrics/double-releases', { headers: { accept: 'text/plain' } });
      if (!response.ok) return;
      this.doubleReleases = parseDoubleReleases(await response.text());
    } catch {
      // No metrics (offline, or a deck served without the server): the counter says so.
    }
    this.renderCounter();
  }

  // ---- State ----

  /** Replaying: the TTL pool as the server last pushed it by the replay's clock, and the warnings recorded so far. */
  private replaySnapshot(): void {
    const replay = this.replay;
    if (!replay) return;
    const last = replay.snapshotAt(TTL_POOL);
    if (last && last.snapshot !== this.snapshot) {
      this.snapshot = last.snapshot;
      this.receivedAt = last.t;
    }
    this.warnings = replay
      .messagesSoFar()
      .flatMap((message) => message.change.doubleReleases)
      .reverse()
      .slice(0, LOG_SIZE);
    this.renderWarnings();
  }

  /** Now, on the clock the TTLs count down by: the page's, or the replay's. */
  private clock(): number {
    return this.replay ? this.replay.player.clock() : Date.now();
  }

  private applySnapshot(snapshot: PoolSnapshot, authoritative = false): void {
    if (this.replay) return;
    if (!authoritative && this.snapshot && snapshot.readAt < this.snapshot.readAt) return;
    this.snapshot = snapshot;
    // TTLs count down from the moment the snapshot arrived (a phone's clock may disagree with the server's).
    this.receivedAt = Date.now();
    this.renderPool();
    this.syncTicker();
  }

  private addWarning(warning: DoubleReleaseWarning): void {
    this.warnings.unshift(warning);
    this.warnings.length = Math.min(this.warnings.length, LOG_SIZE);
    this.renderWarnings();
    this.refreshMetrics();
  }

  // ---- Rendering ----

  protected renderRuns(): void {
    if (this.replay) this.replaySnapshot();
    const previousTtl = this.ttlRun;
    this.ttlRun = this.feed?.latest(TTL_SCENARIO) ?? null;
    this.burstRun = this.feed?.latest(BURST_SCENARIO) ?? null;
    this.renderTtlRun();
    this.renderBurst();
    this.renderControls();
    this.renderPool();
    // A finished run may have released twice somewhere: keep the counter current.
    if (previousTtl?.phase !== this.ttlRun?.phase) this.refreshMetrics();
  }

  protected renderControls(): void {
    const watching = this.feed?.watching === true;
    const busy = (scenario: ScenarioName, run: RunView | null) => this.pending.has(scenario) || underWay(run);
    this.ttlButton.disabled = !watching || busy(TTL_SCENARIO, this.ttlRun);
    this.burstButton.disabled = !watching || busy(BURST_SCENARIO, this.burstRun);
    if (this.feed?.error) this.error.showFeedError(this.feed.error);
  }

  private renderTtlRun(): void {
    const run = this.ttlRun;
    this.ttlPhase.textContent = run ? phaseText(run) : '';
    this.ttlPhase.className = `lp-phase lp-phase-${run?.phase ?? 'none'}`;
    if (!run) {
      this.ttlSteps.replaceChildren(h('li', { className: 'lp-muted', text: 'Kill a worker before any callback: no release ever comes, only the TTL brings the executor back.' }));
      return;
    }
    const steps = run.events.filter((event) => TTL_STEPS.has(event.kind));
    const lines = steps.map((event) => stepLine(event));
    if (run.phase === 'finished' && run.summary?.verdict) {
      const verdict = run.summary.verdict;
      const back = run.events.some((event) => event.kind === 'reclaimed');
      lines.push(
        h('li', {
          className: back ? 'lp-ttl-outcome lp-good' : 'lp-ttl-outcome lp-bad',
          text: back ? `✓ back in the pool without any callback · ${run.summary.poolAfter ? `${run.summary.poolAfter.available.length}/${run.summary.poolAfter.executors.length} available` : ''}` : `${VERDICT_HEADS[verdict.kind]}: ${verdict.summary}`,
          attrs: { 'data-role': 'ttl-outcome', title: [verdict.summary, ...verdict.problems].join('\n') },
        }),
      );
    } else if (run.phase === 'failed') {
      lines.push(h('li', { className: 'lp-ttl-outcome lp-bad', text: `✗ ${run.summary?.error ?? 'the run failed'}` }));
    } else if (lines.length === 0) {
      lines.push(h('li', { className: 'lp-muted', text: PHASE_LABELS[run.phase] }));
    }
    this.ttlSteps.replaceChildren(...lines);
  }

  private renderPool(): void {
    const snapshot = this.snapshot;
    if (!snapshot) {
      this.executors.replaceChildren(h('span', { className: 'lp-muted', text: 'reading Redis…' }));
      return;
    }
    // The executor the TTL run allocated, once the run says the reaper put it back.
    const events = this.ttlRun?.events ?? [];
    const allocation = allocationOf(events);
    const reclaimed = new Set(allocation && events.some((event) => event.kind === 'reclaimed') ? [allocation.executor] : []);
    const allocatedTtl = allocation?.ttlSeconds ?? null;
    const chips = snapshot.executors.map((url) => {
      const owner = snapshot.busy[url];
      const listed = snapshot.available.includes(url);
      const chip = h('div', { className: 'lp-ttl-chip', attrs: { 'data-executor': url } }, h('span', { className: 'lp-name', text: url }));
      if (owner !== undefined) {
        chip.dataset.state = 'busy';
        chip.title = `busy for ${owner}; the TTL of its busy marker counts down (PTTL ${snapshot.busyTtlMs[url] ?? '?'} ms when read)`;
        const ttl = h('span', { className: 'lp-ttl-left', attrs: { 'data-role': 'ttl', 'data-ttl-ms': String(snapshot.busyTtlMs[url] ?? -1) } });
        const bar = h('span', { className: 'lp-ttl-bar' }, h('span', { className: 'lp-ttl-fill' }));
        if (allocatedTtl) bar.dataset.totalMs = String(allocatedTtl * 1000);
        chip.append(ttl, bar);
      } else if (listed) {
        chip.dataset.state = reclaimed.has(url) ? 'reclaimed' : 'free';
        chip.append(h('span', { className: 'lp-ttl-word', text: reclaimed.has(url) ? '↺ back' : 'free' }));
      } else {
        chip.dataset.state = 'lost';
        chip.title = 'neither busy nor available: its busy marker is gone and the reaper has not put it back yet';
        chip.append(h('span', { className: 'lp-ttl-word', text: 'expired' }));
      }
      return chip;
    });
    this.executors.replaceChildren(...chips);
    this.renderTtls();
  }

  /** Counts each busy marker's TTL down from the snapshot; returns how many still tick. */
  private renderTtls(): number {
    let ticking = 0;
    const elapsed = this.clock() - this.receivedAt;
    for (const element of this.executors.querySelectorAll<HTMLElement>('[data-role="ttl"]')) {
      const ttl = Number(element.dataset.ttlMs);
      const fill = element.parentElement?.querySelector<HTMLElement>('.lp-ttl-fill');
      const total = Number(element.parentElement?.querySelector<HTMLElement>('.lp-ttl-bar')?.dataset.totalMs ?? NaN);
      if (ttl < 0) {
        element.textContent = ttl === -1 ? 'no TTL' : 'expired';
        continue;
      }
      const left = ttl - elapsed;
      element.textContent = left > 0 ? `TTL ${formatLeft(left)}` : 'TTL 0: expiring';
      if (fill) fill.style.width = Number.isFinite(total) && total > 0 ? `${Math.max(0, Math.min(100, (left / total) * 100)).toFixed(1)}%` : '100%';
      if (left > 0) ticking++;
    }
    return ticking;
  }

  private renderWarnings(): void {
    if (this.warnings.length === 0) {
      this.warningLog.replaceChildren(h('li', { className: 'lp-log-note', text: 'No double release yet. Act 1 (result can’t be stored) or the Lua slide’s “Double release” make one.' }));
    } else {
      this.warningLog.replaceChildren(
        ...this.warnings.map((warning) =>
          h(
            'li',
            { className: 'lp-log-warning', attrs: { 'data-pool': warning.pool, title: JSON.stringify(warning) } },
            h('span', { className: 'lp-time', text: formatClock(warning.at) }),
            h('span', { className: 'lp-log-pool', text: warning.pool }),
            ` ⚠ ${warning.message}: ${warning.executor}, ${warning.sinceLastReleaseMs} ms apart`,
          ),
        ),
      );
    }
    this.renderCounter();
  }

  private renderCounter(): void {
    const counted = this.doubleReleases;
    this.counter.replaceChildren(
      h('span', { className: 'lp-counter-name', text: 'idem_double_releases_total ' }),
      h('strong', { text: counted ? String(counted.total) : '—', attrs: { 'data-role': 'double-release-total', 'data-zero': String(!counted || counted.total === 0) } }),
    );
    this.counter.title = counted
      ? `from GET /metrics/double-releases: ${Object.entries(counted.byPool).map(([pool, count]) => `${pool} ${count}`).join(', ') || 'none yet'}`
      : 'GET /metrics/double-releases not read yet';
  }

  private renderBurst(): void {
    const run = this.burstRun;
    this.burstPhase.textContent = run ? phaseText(run) : '';
    this.burstPhase.className = `lp-phase lp-phase-${run?.phase ?? 'none'}`;
    if (!run) {
      this.burstResult.replaceChildren(h('div', { className: 'lp-muted', text: '24 evals ask for an executor at once, over 4 connections: RPOP inside one script hands each executor to one of them.' }));
      return;
    }
    const allocations = run.events.flatMap((event) => (event.kind === 'allocate' ? [event.data] : []));
    const granted = allocations.flatMap(({ executor, evalId }) => (executor ? [{ executor, evalId }] : []));
    const distinct = new Set(granted.map((grant) => grant.executor)).size;
    const result = run.events.find((event) => event.kind === 'burst-result');
    const verdict = run.summary?.verdict;
    const parts: HTMLElement[] = [];
    if (allocations.length > 0) {
      const sound = distinct === granted.length;
      parts.push(
        h(
          'div',
          { className: sound ? 'lp-burst-line lp-good' : 'lp-burst-line lp-bad', attrs: { 'data-role': 'burst-counts', title: result?.text ?? '' } },
          h('strong', { text: String(allocations.length) }),
          ' asked, ',
          h('strong', { text: String(granted.length) }),
          ' granted, ',
          h('strong', { text: String(distinct) }),
          ` distinct executor${distinct === 1 ? '' : 's'}`,
        ),
        h('div', { className: 'lp-burst-grants' }, ...granted.map((grant) => h('span', { className: 'lp-grant', text: `${grant.executor} ← ${grant.evalId}` }))),
      );
    }
    if (verdict && run.phase === 'finished') {
      parts.push(
        h('div', {
          className: verdict.sound ? 'lp-burst-verdict lp-good' : 'lp-burst-verdict lp-bad',
          text: `${verdict.sound ? '✓' : '✗'} ${verdict.summary}`,
          attrs: { 'data-role': 'verdict', title: [verdict.summary, ...verdict.problems].join('\n') },
        }),
      );
    } else if (run.phase === 'failed') {
      parts.push(h('div', { className: 'lp-burst-verdict lp-bad', text: `✗ ${run.summary?.error ?? 'the run failed'}` }));
    } else if (parts.length === 0) {
      parts.push(h('div', { className: 'lp-muted', text: PHASE_LABELS[run.phase] }));
    }
    this.burstResult.replaceChildren(...parts);
  }

  private syncTicker(): void {
    if (!this.ticker.sync(this.context.isVisible(), this.snapshot)) this.renderTtls();
  }
}

// ---- Pure helpers ----

function stepLine(event: TimelineEvent): HTMLElement {
  const look = markLook(event);
  return h(
    'li',
    { className: `lp-ttl-step lp-tone-${look.tone}`, attrs: { 'data-kind': event.kind, title: event.text } },
    h('span', { className: 'lp-ttl-glyph', text: look.glyph }),
    event.text,
  );
}

/** The run's allocation (executor and TTL of its busy marker), from its `allocate` event. */
function allocationOf(events: readonly TimelineEvent[]): { executor: string; ttlSeconds: number } | null {
  for (const event of events) {
    if (event.kind !== 'allocate') continue;
    const { executor, ttlSeconds } = event.data;
    if (executor !== null && ttlSeconds !== null) return { executor, ttlSeconds };
  }
  return null;
}

/** Seconds with a tenth under a minute ("1.4 s"), m:ss above. */
function formatLeft(ms: number): string {
  return ms < 60_000 ? `${(Math.ceil(ms / 100) / 10).toFixed(1)} s` : formatTtl(ms);
}
