/**
 * The deck as the hall sees it: where the presenter is, which panels are open
 * to the audience, under which fault and on which framework the run panels play,
 * and whether a talk is live at all, with a version that grows by one per change. Followers, late joiners and reconnecting phones all
 * read this one object; each change is announced once (`changed`).
 *
 * With a store (deckStore.ts) the state lives in Redis, shared by every server
 * instance: this object is the instance's mirror. A change applies here at once
 * (the presenter's window gets its answer without waiting) and is written through;
 * a change made on another instance arrives from the store and is adopted.
 */
import { EventEmitter } from 'node:events';
import { CeleryFaultName, FaultName, type AnyFaultName, type AudiencePanel, type DeckMoveRequest, type DeckState, type RuntimeName, type RuntimePanel } from '../protocol.ts';
import { ClientError } from '../errors.ts';
import { DEFAULT_FAULTS, defaultFault, isRuntimePanel } from './audiencePanels.ts';
import type { DeckStore } from './deckStore.ts';

export class HallDeck extends EventEmitter<{ changed: [state: DeckState] }> {
  private current: DeckState = initialState(0);
  private store: DeckStore | null = null;

  /** Shares the state through Redis from now on: loads what is there, then follows other instances' changes. */
  async share(store: DeckStore): Promise<void> {
    this.store = store;
    await store.follow((state) => this.adopt(state));
    this.adopt(await store.load(this.current));
  }

  get state(): DeckState {
    return this.current;
  }

  isOpen(panel: AudiencePanel): boolean {
    return this.current.open.includes(panel);
  }

  /** Whether a viewer may fire the panel: the presenter opened it, or no talk is live. */
  isOpenToAudience(panel: AudiencePanel): boolean {
    return !this.current.live || this.isOpen(panel);
  }

  faultOf(panel: AudiencePanel): AnyFaultName | undefined {
    return this.current.faults[panel];
  }

  /** The framework a panel's runs play on: the presenter's pick on a switchable panel, else BullMQ. */
  runtimeOf(panel: AudiencePanel): RuntimeName {
    return (isRuntimePanel(panel) ? this.current.runtimes[panel] : undefined) ?? 'bullmq';
  }

  move(position: DeckMoveRequest): DeckState {
    const { h, v, f } = this.current;
    if (h === position.h && v === position.v && f === position.f) return this.current;
    return this.change({ h: position.h, v: position.v, f: position.f });
  }

  setOpen(panel: AudiencePanel, open: boolean): DeckState {
    if (this.isOpen(panel) === open) return this.current;
    const others = this.current.open.filter((name) => name !== panel);
    return this.change({ open: open ? [...others, panel] : others });
  }

  /** A fault of the framework the panel plays on now; another framework's fault is `bad_request`, nothing changes. */
  pickFault(panel: AudiencePanel, fault: AnyFaultName): DeckState {
    const runtime = this.runtimeOf(panel);
    if (!(runtime === 'celery' ? CeleryFaultName : FaultName).safeParse(fault).success) {
      throw new ClientError('bad_request', `fault "${fault}" is not a fault of ${runtime === 'celery' ? 'Celery' : 'BullMQ'}, which this panel runs on`);
    }
    if (this.current.faults[panel] === fault) return this.current;
    return this.change({ faults: { ...this.current.faults, [panel]: fault } });
  }

  /** Switches a panel's runs to a framework, with that framework's first fault (its menu's), in one change. */
  pickRuntime(panel: RuntimePanel, runtime: RuntimeName): DeckState {
    if (this.runtimeOf(panel) === runtime) return this.current;
    return this.change({
      runtimes: { ...this.current.runtimes, [panel]: runtime },
      faults: { ...this.current.faults, [panel]: defaultFault(panel, runtime) },
    });
  }

  /** A talk starts (a presenter is here) or ends (none for a while): see talkPresence.ts. */
  setLive(live: boolean): DeckState {
    if (this.current.live === live) return this.current;
    return this.change({ live });
  }

  /**
   * Between rehearsals: first slide, every panel closed, the default faults on BullMQ. The version
   * keeps growing; whether a talk is live is not the deck's to reset (a presenter is here, or not).
   */
  reset(): DeckState {
    return this.change({ ...initialState(this.current.version), version: this.current.version, live: this.current.live });
  }

  /**
   * Redis is back (perhaps empty): what this instance holds goes back there unless
   * Redis holds a newer state, which is adopted instead. Resolves when done.
   */
  async restore(): Promise<void> {
    await this.store?.restore(this.current, (state) => this.adopt(state));
  }

  private change(patch: Partial<DeckState>): DeckState {
    const held = this.current;
    const at = Date.now();
    this.current = { ...held, ...patch, version: held.version + 1, at };
    this.emit('changed', this.current);
    // Redis numbers the change; when another instance changed the deck meanwhile, its
    // version is higher and ours follows it (the fields each change wrote are kept).
    // The state held before goes along: a Redis that lost it gets it back first.
    this.store?.save({ ...patch, at }, held, (state) => this.adopt(state));
    return this.current;
  }

  /** A state from Redis: taken unless older than ours; announced unless it only renumbers what we show. */
  private adopt(state: DeckState): void {
    if (state.version < this.current.version) return;
    const same = sameDeck(state, this.current);
    this.current = state;
    if (!same) this.emit('changed', state);
  }
}

function sameDeck(a: DeckState, b: DeckState): boolean {
  return (
    a.h === b.h && a.v === b.v && a.f === b.f && a.at === b.at && a.live === b.live &&
    JSON.stringify(a.open) === JSON.stringify(b.open) && JSON.stringify(a.faults) === JSON.stringify(b.faults) && JSON.stringify(a.runtimes) === JSON.stringify(b.runtimes)
  );
}

/** A new hall: no talk live until a presenter shows up. */
function initialState(version: number): DeckState {
  return { version, h: 0, v: 0, f: -1, open: [], faults: { ...DEFAULT_FAULTS }, runtimes: {}, live: false, at: Date.now() };
}
