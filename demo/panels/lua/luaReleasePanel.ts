/**
 * "The Lua Script Solution": the pool as Redis holds it, and buttons that run the
 * real scripts against it. Allocate takes an executor (RPOP + busy marker with a
 * TTL); "Double release" sends both callbacks' releases back to back, and the two
 * replies of release_executor.lua show, exactly as Redis returned them, why the
 * executor still ends up in the list once.
 *
 * Nothing here is computed in the browser but the TTL countdown between two
 * snapshots: every list, marker, owner and reply comes from the server, and
 * every viewer's clicks reach every other viewer (in `pool:changed`, with the
 * snapshot they made). Where no server answers, the panel replays a recorded
 * session on the real system (sessionReplay.ts) through the same handlers.
 */
import type { PoolAction, PoolChange, PoolSnapshot, ReleaseReply } from '../../../server/protocol.ts';
import type { Connection } from '../../connection.ts';
import { actionButton, h, showWholeLines } from '../../dom.ts';
import { PanelFrame } from '../../frame.ts';
import type { PanelContext, PanelController, PanelOptions } from '../../panel.ts';
import type { PanelSource } from '../../replay/backendGate.ts';
import { ReplayBar } from '../../replay/replayBar.ts';
import { loadPoolSession } from '../../replay/recordings.ts';
import { CountdownTicker } from '../../ticker.ts';
import { describeFailure, logLine, type ActionEntry, type LogItem } from './actionLog.ts';
import { PoolView } from './poolView.ts';
import { actionKey, actionLabel, allocationLines, replyLine } from './replies.ts';
import { SessionReplay } from './sessionReplay.ts';

const DEFAULT_POOL = 'main';
/** How many log lines are kept; the box shows the newest that fit. */
const LOG_SIZE = 30;
/** Countdown refresh while the slide is on screen: often enough that seconds tick evenly. */
const TICK_MS = 250;

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
  private readonly ticker = new CountdownTicker(TICK_MS, () => this.poolView.renderTtls());

  /** The recorded session played where no server answers; null when live. */
  private replay: SessionReplay | null = null;
  private readonly replayBar = new ReplayBar();
  private replayStarted = false;
  private generation = 0;

  // The panel's elements: made with it, put together and into the slide by render(),
  // then only their text and attributes change.
  private readonly poolView = new PoolView(
    (executor) => this.pick(executor),
    () => this.clock(),
  );
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
    this.replayBar.element.hidden = true;
    this.frame.body.append(
      this.replayBar.element,
      h(
        'div',
        { className: 'lp-section' },
        h('div', { className: 'lp-label' }, h('span', { text: 'available list' }), h('span', { className: 'lp-hint', text: 'LPUSH → head … tail → RPOP' })),
        this.poolView.available,
      ),
      h(
        'div',
        { className: 'lp-section' },
        h('div', { className: 'lp-label' }, h('span', { text: 'executors' }), h('span', { className: 'lp-hint', text: 'pick one to release' })),
        this.poolView.executors,
      ),
      h('div', { className: 'lp-actions' }, this.allocateButton, this.releaseButton, this.doubleButton),
      this.error,
      h('div', { className: 'lp-replies', attrs: { 'data-role': 'replies', 'aria-live': 'polite' } }, this.repliesTitle, this.replies),
      this.logList,
    );
    this.frame.render();
    this.unsubscribers.push(showWholeLines(this.logList));

    this.unsubscribers.push(
      this.connection.onState(() => this.renderControls()),
      this.connection.on('pool:changed', (change) => {
        if (!this.replay && change.pool === this.pool) this.applyChange(change);
      }),
      this.context.backend().onChange((source) => this.useSource(source)),
    );
    this.renderAll();
  }

  configure(options: PanelOptions): void {
    const pool = options.pool || DEFAULT_POOL;
    const changed = pool !== this.pool;
    this.pool = pool;
    this.frame?.configure({ title: 'Executor pool', subtitle: this.replay ? `${pool} · recorded from Redis` : `${pool} · live from Redis` });
    if (changed) {
      this.clearState();
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
    this.poolView.renderTtls();
    this.syncTicker();
    if (this.replay && !this.replayStarted && this.context.mode === 'live' && this.context.isVisible()) {
      this.replayStarted = true;
      this.replay.player.play();
    }
  }

  destroy(): void {
    this.unsubscribeConnect?.();
    this.unsubscribeConnect = null;
    for (const unsubscribe of this.unsubscribers.splice(0)) unsubscribe();
    this.stopReplay();
    this.replayBar.destroy();
    this.ticker.stop();
    this.frame?.destroy();
    this.frame = null;
  }

  // ---- Live or replay ----

  private useSource(source: PanelSource): void {
    if (source === 'replay') {
      void this.startReplay();
    } else if (source === 'live') {
      this.frame?.setReplaying(false);
      if (!this.replay) return;
      // A server answers now: the recording gives way to the pool as it is.
      this.generation++;
      this.stopReplay();
      this.clearState();
      this.renderAll();
      this.configure({ pool: this.pool });
    }
  }

  private async startReplay(): Promise<void> {
    const generation = ++this.generation;
    const recording = await loadPoolSession(this.pool).catch(() => null);
    if (generation !== this.generation || !this.frame) return;
    if (!recording) {
      this.showError('No server answers here, and this pool has no recording to replay.');
      return;
    }
    this.stopReplay();
    this.replay = new SessionReplay(recording, {
      reset: (before) => {
        this.clearState();
        this.applySnapshot(before, true, 0);
        this.renderAll();
      },
      message: (message, t) => this.applyChange(message.change, t),
    });
    this.frame.setReplaying(true);
    this.frame.configure({ title: 'Executor pool', subtitle: `${this.pool} · recorded from Redis` });
    this.replayBar.element.hidden = false;
    this.replayBar.attach(this.replay.player, recording);
    if (this.context.mode === 'print') {
      this.replay.player.toEnd();
    } else if (this.replayStarted || this.context.isVisible()) {
      this.replayStarted = true;
      this.replay.player.play();
    }
    this.renderControls();
  }


  private stopReplay(): void {
    this.replay?.destroy();
    this.replay = null;
    this.replayBar.element.hidden = true;
    this.frame?.setReplaying(false);
  }

  /** Now, on the clock the TTLs count down by: the page's, or the replay's. */
  private clock(): number {
    return this.replay ? this.replay.player.clock() : Date.now();
  }

  // ---- Talking to the server ----

  private async watch(reconnect: boolean): Promise<void> {
    this.watching = false;
    const pool = this.pool;
    const result = await this.connection.request('pool:watch', { pool });
    if (pool !== this.pool || this.replay) return;
    if (!result.ok) {
      this.showError(`Cannot show pool "${pool}": ${describeFailure(result)}`);
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
      this.showError(describeFailure(result));
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
      this.showError(describeFailure(result));
      return;
    }
    this.showError('');
    const releases: ReleaseReply[] = Array.isArray(result.data) ? result.data : [result.data];
    this.recordAction({ kind: 'released', pool, releases, at: Date.now() }, true);
  }

  // ---- State ----

  private clearState(): void {
    this.snapshot = null;
    this.entries.clear();
    this.latest = null;
    this.log = [];
    this.lastAllocated = null;
    this.lastAllocatedMine = false;
    this.targetPinned = false;
  }

  private applySnapshot(snapshot: PoolSnapshot, authoritative = false, receivedAt = this.clock()): void {
    // Two reads can cross on the way (the watch's and a change's): keep the newer.
    if (!authoritative && this.snapshot && snapshot.readAt < this.snapshot.readAt) return;
    this.snapshot = snapshot;
    // readAt is the server's clock, which a phone's may disagree with by seconds; the TTLs
    // count down from the moment the snapshot arrived here (network delay: a few ms).
    this.receivedAt = receivedAt;
    this.chooseTarget();
    this.renderPool();
    this.renderControls();
    this.syncTicker();
  }

  /** One message of the pool's room (live, or a recorded one): the pool after the change, then the clicks and warnings that made it. */
  private applyChange(change: PoolChange, receivedAt = this.clock()): void {
    this.applySnapshot(change, false, receivedAt);
    for (const action of change.actions) this.recordAction(action, false);
    for (const warning of change.doubleReleases) this.addLog({ kind: 'warning', warning, at: warning.at });
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
    this.poolView.show(this.snapshot, this.receivedAt, this.target);
  }

  private renderControls(): void {
    // Replaying, the buttons stay: they show what was clicked, and there is no server to click.
    const live = !this.replay && this.connection.connected && this.watching;
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
      this.replay
        ? h('span', { className: 'lp-who', text: 'recorded' })
        : h('span', { className: entry.mine ? 'lp-who lp-who-me' : 'lp-who', text: entry.mine ? 'you' : 'another viewer' }),
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
    const others = this.replay ? 'recorded' : 'viewer';
    this.logList.replaceChildren(...this.log.map((item) => logLine(item, others)));
  }

  private syncTicker(): void {
    this.ticker.sync(this.context.isVisible(), this.snapshot);
  }
}

function randomId(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(4));
  return [...bytes].map((byte) => byte.toString(16).padStart(2, '0')).join('');
}
