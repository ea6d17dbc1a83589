/**
 * The deck as the hall sees it: where the presenter is, which panels are open
 * to the audience and under which fault the run panels play, with a version that
 * grows by one per change. Followers, late joiners and reconnecting phones all
 * read this one object; each change is announced once (`changed`).
 *
 * With a store (deckStore.ts) the state lives in Redis, shared by every server
 * instance: this object is the instance's mirror. A change applies here at once
 * (the presenter's window gets its answer without waiting) and is written through;
 * a change made on another instance arrives from the store and is adopted.
 */
import { EventEmitter } from 'node:events';
import type { AudiencePanel, DeckMoveRequest, DeckState, FaultName } from '../protocol.ts';
import { DEFAULT_FAULTS } from './audiencePanels.ts';
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

  faultOf(panel: AudiencePanel): FaultName | undefined {
    return this.current.faults[panel];
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

  pickFault(panel: AudiencePanel, fault: FaultName): DeckState {
    if (this.current.faults[panel] === fault) return this.current;
    return this.change({ faults: { ...this.current.faults, [panel]: fault } });
  }

  /** Between rehearsals: first slide, every panel closed, the default faults. The version keeps growing. */
  reset(): DeckState {
    return this.change({ ...initialState(this.current.version), version: this.current.version });
  }

  private change(patch: Partial<DeckState>): DeckState {
    const at = Date.now();
    this.current = { ...this.current, ...patch, version: this.current.version + 1, at };
    this.emit('changed', this.current);
    // Redis numbers the change; when another instance changed the deck meanwhile, its
    // version is higher and ours follows it (the fields each change wrote are kept).
    this.store?.save({ ...patch, at }, (state) => this.adopt(state));
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
  return a.h === b.h && a.v === b.v && a.f === b.f && a.at === b.at && JSON.stringify(a.open) === JSON.stringify(b.open) && JSON.stringify(a.faults) === JSON.stringify(b.faults);
}

function initialState(version: number): DeckState {
  return { version, h: 0, v: 0, f: -1, open: [], faults: { ...DEFAULT_FAULTS }, at: Date.now() };
}
