/**
 * The hall's one line of chrome, in a corner of the screen: for a follower a small
 * sign that the page follows the presenter (on a phone too: it is all that says so),
 * or the "Back to live" button once they stepped away; for a reader while no talk is
 * live, that the demos are theirs. A presenter's window is what the room sees: it
 * shows nothing, unless another presenter window took the hall from it.
 */
import { h } from '../dom.ts';

/** The class on <html> while the bar offers "Back to live". */
const AWAY_CLASS = 'hall-away';

export type LiveBarView =
  | { kind: 'hidden' }
  | { kind: 'following' }
  | { kind: 'away'; liveSlide: string }
  | { kind: 'solo' }
  | { kind: 'presenter'; driving: boolean };

export class LiveBar {
  readonly element: HTMLElement;
  private readonly status = h('span', { className: 'hall-status', attrs: { 'data-role': 'hall-status' } });
  private readonly backButton: HTMLButtonElement;

  constructor(actions: { backToLive(): void }) {
    this.backButton = h('button', { className: 'hall-button hall-back', text: 'Back to live ▸', attrs: { type: 'button', 'data-role': 'back-to-live' } });
    this.backButton.addEventListener('click', () => actions.backToLive());
    this.element = h('div', { className: 'hall-bar', attrs: { 'data-role': 'hall-bar', 'aria-live': 'polite' } }, this.status, this.backButton);
    this.show({ kind: 'hidden' });
  }

  render(): void {
    document.body.append(this.element);
  }

  show(view: LiveBarView): void {
    this.element.dataset.state = view.kind === 'presenter' ? (view.driving ? 'driving' : 'superseded') : view.kind;
    this.element.hidden = view.kind === 'hidden' || (view.kind === 'presenter' && view.driving);
    this.backButton.hidden = view.kind !== 'away';
    // Stepped away, the bar carries a button over the bottom of the stage: the stage makes room (hall.css).
    document.documentElement.classList.toggle(AWAY_CLASS, view.kind === 'away');
    switch (view.kind) {
      case 'following':
        this.status.textContent = '● Live: following the presenter';
        break;
      case 'away':
        this.status.textContent = `Live is on slide ${view.liveSlide}`;
        break;
      case 'solo':
        this.status.textContent = 'No talk is live: the demos are yours';
        break;
      case 'presenter':
        this.status.textContent = view.driving ? '' : 'Another presenter window drives the hall: move a slide here to take over';
        break;
      default:
        this.status.textContent = '';
    }
  }

  destroy(): void {
    document.documentElement.classList.remove(AWAY_CLASS);
    this.element.remove();
  }
}
