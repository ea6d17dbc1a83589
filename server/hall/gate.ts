/**
 * The one check every action passes, over HTTP and sockets alike: presenter
 * actions need the presenter's session (and tell the hall a presenter is here);
 * audience actions need their panel open (or no talk live),
 * a token from the viewer session's bucket (shared by all its sockets and its
 * HTTP calls) and one from the panel's overall budget, which keeps the stage view
 * readable however big the hall. The presenter's own actions always go through.
 */
import type { IncomingMessage } from 'node:http';
import type { AudiencePanel } from '../protocol.ts';
import { ClientError } from '../errors.ts';
import type { Budget } from './budgets.ts';
import type { Sessions, Viewer } from '../session/sessions.ts';
import type { Activity } from './activity.ts';
import type { HallDeck } from './deckState.ts';

export interface GateOptions {
  sessions: Sessions;
  deck: HallDeck;
  activity: Activity;
  viewerLimiter: Budget;
  panelBudget: Budget;
  /** A presenter acted: the talk is live (talkPresence.ts). */
  presenterActed(): void;
}

export class Gate {
  private readonly panelBudget: Budget;

  constructor(private readonly options: GateOptions) {
    this.panelBudget = options.panelBudget;
  }

  viewerOf(req: IncomingMessage): Viewer {
    return this.options.sessions.identify(req);
  }

  isPresenter(viewer: Viewer): boolean {
    return this.options.sessions.isPresenter(viewer);
  }

  requirePresenter(viewer: Viewer): void {
    if (!this.isPresenter(viewer)) throw new ClientError('forbidden', 'only the presenter can do that');
    this.options.presenterActed();
  }

  /** Lets an audience action on `panel` through, or throws `forbidden` / `rate_limited`. */
  async audience(viewer: Viewer, panel: AudiencePanel): Promise<void> {
    if (this.isPresenter(viewer)) {
      this.options.presenterActed();
    } else {
      if (!this.options.deck.isOpenToAudience(panel)) {
        throw new ClientError('forbidden', 'this demo is closed: the presenter opens it when its slide comes');
      }
      if (!(await this.options.viewerLimiter.take(viewer.limitKey))) {
        throw new ClientError('rate_limited', 'slow down: wait a second, then tap again');
      }
      if (!(await this.panelBudget.take(panel))) {
        throw new ClientError('rate_limited', 'slow down: the whole hall is firing this demo; try again in a moment');
      }
    }
    this.options.activity.record(panel, viewer.id);
  }

  /**
   * An audience action that its own feature opens and paces (a chaos round's taps):
   * only the viewer session's bucket, shared with every other action of that session.
   */
  async viewerBudget(viewer: Viewer): Promise<void> {
    if (this.isPresenter(viewer)) return;
    if (!(await this.options.viewerLimiter.take(viewer.limitKey))) {
      throw new ClientError('rate_limited', 'slow down: wait a second, then tap again');
    }
  }

  /** Between rehearsals: every viewer's and every panel's budget full again. */
  async refill(): Promise<void> {
    await this.options.viewerLimiter.clear();
    await this.panelBudget.clear();
  }

  sweep(): void {
    this.options.viewerLimiter.sweep();
    this.panelBudget.sweep();
    this.options.sessions.sweep();
  }
}
