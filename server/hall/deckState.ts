/**
 * The deck as the hall sees it: where the presenter is, which panels are open
 * to the audience and under which fault the run panels play, with a version that
 * grows by one per change. Followers, late joiners and reconnecting phones all
 * read this one object; each change is announced once (`changed`).
 */
import { EventEmitter } from 'node:events';
import type { AudiencePanel, DeckMoveRequest, DeckState, FaultName } from '../protocol.ts';
import { DEFAULT_FAULTS } from './audiencePanels.ts';

export class HallDeck extends EventEmitter<{ changed: [state: DeckState] }> {
  private current: DeckState = initialState(0);

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
    this.current = { ...this.current, ...patch, version: this.current.version + 1, at: Date.now() };
    this.emit('changed', this.current);
    return this.current;
  }
}

function initialState(version: number): DeckState {
  return { version, h: 0, v: 0, f: -1, open: [], faults: { ...DEFAULT_FAULTS }, at: Date.now() };
}
