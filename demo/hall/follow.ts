/**
 * The deck and the hall, kept in step. The presenter's window sends every move
 * (slide or fragment) to the server; every other page applies what the server
 * announces, until its reader moves on their own: then it stays where they are,
 * and "Back to live" returns it. A page opened on an explicit slide (a deep link,
 * `/#/5`) starts there, not following: the reader's link wins. While no talk is
 * live (no presenter lately) there is nothing to follow: the reader reads on their
 * own, and a follower is taken to the presenter's slide once a talk starts.
 *
 * Telling our own moves from the reader's: reveal announces both the same way,
 * so the position we applied last is remembered and an event that lands there is
 * ours. The phone layout scrolls to the slide we apply and may settle a moment
 * later, so events just after applying are ours too.
 */
import type { RevealApi } from 'reveal.js';
import type { DeckMoveRequest } from '../../server/protocol.ts';
import { slideName } from '../slideNumber.ts';
import { TALK_LIVE_CLASS } from '../../slides/readerNotes.ts';
import type { HallChange, HallLink } from './hallLink.ts';
import type { LiveBar } from './liveBar.ts';

/** On a phone, events this soon after applying a move are the page's scroll settling, not the reader. */
const SETTLE_MS = 700;
/** slides/phoneLayout.ts marks <html> with it while the deck is laid out as a page. */
const PHONE_LAYOUT_CLASS = 'phone-layout';
/** Where this tab was following, so a reload (whose URL then carries the slide's hash) follows again. */
const FOLLOWING_KEY = 'hall:following-at';

const DECK_EVENTS = ['slidechanged', 'fragmentshown', 'fragmenthidden'] as const;

export class DeckFollower {
  private following: boolean;
  private applied: DeckMoveRequest | null = null;
  private appliedAt = 0;
  private welcomed = false;
  private lastReported = '';
  private unsubscribe: (() => void) | null = null;
  private readonly onDeckEvent = () => this.deckMoved();

  constructor(
    private readonly deck: RevealApi,
    private readonly link: HallLink,
    private readonly bar: LiveBar,
  ) {
    this.following = !startsAway(deck);
  }

  render(): void {
    for (const event of DECK_EVENTS) this.deck.on(event, this.onDeckEvent);
    this.unsubscribe = this.link.subscribe((change) => this.hallChanged(change));
  }

  /** Follow the presenter again, from wherever the reader went. */
  backToLive(): void {
    this.following = true;
    this.applyLive();
    this.report();
    this.renderBar();
  }

  get isFollowing(): boolean {
    return this.following && this.link.role === 'viewer';
  }

  destroy(): void {
    document.documentElement.classList.remove(TALK_LIVE_CLASS);
    for (const event of DECK_EVENTS) this.deck.off(event, this.onDeckEvent);
    this.unsubscribe?.();
  }

  private hallChanged(change: HallChange): void {
    if (change === 'firing') return;
    if (this.link.isPresenter) {
      // A presenter window lands where the hall is when it opens on a plain URL (or drives the
      // hall from where it went before the server answered), and follows the window that
      // drives while another one does.
      if (change === 'welcome' && !this.welcomed && !this.following) void this.link.move(positionOf(this.deck));
      else if ((change === 'welcome' && !this.welcomed) || change === 'reset' || this.link.superseded) this.applyLive();
    } else if (this.following && this.link.live) {
      this.applyLive();
    }
    if (change === 'welcome') {
      this.welcomed = true;
      this.lastReported = '';
      this.report();
    }
    this.renderBar();
  }

  private deckMoved(): void {
    const position = positionOf(this.deck);
    if (this.isOurs(position)) return;
    this.applied = null;
    if (this.link.isPresenter) {
      void this.link.move(position);
      return;
    }
    if (this.following) {
      this.following = false;
      sessionStorage.removeItem(FOLLOWING_KEY);
      this.renderBar();
    }
    this.report();
  }

  private isOurs(position: DeckMoveRequest): boolean {
    if (!this.applied) return false;
    if (samePosition(position, this.applied)) return true;
    // Only the phone layout moves on its own after we moved it (its scroll settling).
    return document.documentElement.classList.contains(PHONE_LAYOUT_CLASS) && Date.now() - this.appliedAt < SETTLE_MS;
  }

  private applyLive(): void {
    const state = this.link.state;
    if (!state) return;
    const target: DeckMoveRequest = { h: state.h, v: state.v, f: state.f };
    this.applied = target;
    this.appliedAt = Date.now();
    if (!this.link.isPresenter) sessionStorage.setItem(FOLLOWING_KEY, `${state.h}/${state.v}`);
    if (samePosition(positionOf(this.deck), target)) return;
    this.deck.slide(target.h, target.v, target.f);
  }

  /** Tells the server whether this viewer follows (the console counts them), once per change. */
  private report(): void {
    const { h, v } = positionOf(this.deck);
    const report = { following: this.following, h, v };
    const key = JSON.stringify(report);
    if (key === this.lastReported) return;
    this.lastReported = key;
    this.link.report(report);
  }

  private renderBar(): void {
    const wasAway = this.bar.element.dataset.state === 'away';
    this.showBar();
    // The stage's height changes with the away bar (hall.css): let reveal scale the slide again.
    if (wasAway !== (this.bar.element.dataset.state === 'away')) this.deck.layout();
  }

  private showBar(): void {
    const role = this.link.role;
    // A viewer in a live talk gets the talk, not the speaker's notes (slides/readerNotes.ts).
    document.documentElement.classList.toggle(TALK_LIVE_CLASS, role === 'viewer' && this.link.live);
    if (role === null) this.bar.show({ kind: 'hidden' });
    else if (role === 'presenter') this.bar.show({ kind: 'presenter', driving: !this.link.superseded });
    else if (!this.link.live) this.bar.show({ kind: 'solo' });
    else if (this.following) this.bar.show({ kind: 'following' });
    else this.bar.show({ kind: 'away', liveSlide: this.link.state ? slideName(this.link.state) : '1' });
  }
}

function positionOf(deck: RevealApi): DeckMoveRequest {
  const { h, v, f } = deck.getIndices();
  return { h, v: v ?? 0, f: typeof f === 'number' ? f : -1 };
}

function samePosition(a: DeckMoveRequest, b: DeckMoveRequest): boolean {
  return a.h === b.h && a.v === b.v && a.f === b.f;
}

/**
 * Whether the page starts away from the hall: opened on a slide other than the first (a
 * deep link, `/#/5`), or moved there before the hall was loaded; unless this tab was
 * following on exactly that slide before a reload (whose URL then carries its hash).
 */
function startsAway(deck: RevealApi): boolean {
  const { h, v } = positionOf(deck);
  if (h === 0 && v === 0) return false;
  return sessionStorage.getItem(FOLLOWING_KEY) !== `${h}/${v}`;
}
