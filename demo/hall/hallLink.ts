/**
 * This page's place in the hall: it joins on every (re)connect, so a late joiner
 * or a phone back from a dead spot gets the deck state at once; then it keeps the
 * newest state the server announced (by version), the "N firing" counts, and the
 * role the server gave this page. The role only shapes the controls: the server
 * checks it again on every action.
 */
import type { AnyFaultName, AudiencePanel, DeckMoveRequest, DeckState, FiringCounts, FollowReport, Role, RuntimeName, RuntimePanel } from '../../server/protocol.ts';
import type { Connection } from '../connection.ts';

export type HallChange = 'welcome' | 'state' | 'firing' | 'superseded' | 'reset';
export type HallListener = (change: HallChange) => void;

export class HallLink {
  private roleNow: Role | null = null;
  private stateNow: DeckState | null = null;
  private firingNow: FiringCounts = {};
  private supersededNow = false;
  private readonly listeners = new Set<HallListener>();
  private readonly cleanups: (() => void)[] = [];

  constructor(readonly connection: Connection) {}

  start(): void {
    this.cleanups.push(
      this.connection.on('deck:changed', (state) => {
        // Messages can cross a reconnect: an older state never replaces a newer one.
        if (this.stateNow && state.version <= this.stateNow.version) return;
        this.stateNow = state;
        this.emit('state');
      }),
      this.connection.on('hall:firing', (firing) => {
        this.firingNow = firing;
        this.emit('firing');
      }),
      this.connection.on('hall:superseded', () => {
        this.supersededNow = true;
        this.emit('superseded');
      }),
      this.connection.onConnect(() => void this.join()),
    );
  }

  /** Null until the server answered: a page without a server (a static build) never shows hall controls. */
  get role(): Role | null {
    return this.roleNow;
  }

  get isPresenter(): boolean {
    return this.roleNow === 'presenter';
  }

  get state(): DeckState | null {
    return this.stateNow;
  }

  get firing(): FiringCounts {
    return this.firingNow;
  }

  /** Another presenter window acted after this one: it drives until this one acts again. */
  get superseded(): boolean {
    return this.supersededNow;
  }

  isOpen(panel: AudiencePanel): boolean {
    return this.stateNow?.open.includes(panel) ?? false;
  }

  /** Whether a talk is live (a presenter here lately); until the server answered, taken as live. */
  get live(): boolean {
    return this.stateNow?.live ?? true;
  }

  subscribe(listener: HallListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  async move(position: DeckMoveRequest): Promise<void> {
    const result = await this.connection.request('deck:move', position);
    if (result.ok) this.acted(result.data);
  }

  async setOpen(panel: AudiencePanel, open: boolean): Promise<string | null> {
    const result = await this.connection.request('panel:open', { panel, open });
    if (!result.ok) return result.message;
    this.acted(result.data);
    return null;
  }

  async pickFault(panel: AudiencePanel, fault: AnyFaultName): Promise<void> {
    const result = await this.connection.request('panel:pick-fault', { panel, fault });
    if (result.ok) this.acted(result.data);
  }

  async pickRuntime(panel: RuntimePanel, runtime: RuntimeName): Promise<void> {
    const result = await this.connection.request('panel:pick-runtime', { panel, runtime });
    if (result.ok) this.acted(result.data);
  }

  async resetEverything(): Promise<string | null> {
    const result = await this.connection.request('hall:reset-everything', {});
    if (!result.ok) return result.message;
    this.acted(result.data);
    this.emit('reset');
    return null;
  }

  report(report: FollowReport): void {
    if (this.roleNow === 'viewer') void this.connection.request('hall:follow', report);
  }

  destroy(): void {
    for (const cleanup of this.cleanups.splice(0)) cleanup();
    this.listeners.clear();
  }

  private async join(): Promise<void> {
    const result = await this.connection.request('hall:join', {});
    if (!result.ok) return;
    this.roleNow = result.data.role;
    // A fresh join is the authority, even on a lower version (the server may have restarted).
    this.stateNow = result.data.state;
    this.firingNow = result.data.firing;
    this.emit('welcome');
  }

  /** This window's own action went through: it drives now. */
  private acted(state: DeckState): void {
    const wasSuperseded = this.supersededNow;
    this.supersededNow = false;
    if (!this.stateNow || state.version > this.stateNow.version) {
      this.stateNow = state;
      this.emit('state');
    } else if (wasSuperseded) {
      this.emit('superseded');
    }
  }

  private emit(change: HallChange): void {
    for (const listener of [...this.listeners]) listener(change);
  }
}
