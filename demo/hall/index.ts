/**
 * The hall in the page: one link to the server's deck state, the follower (or,
 * in the presenter's window, the driver) of the deck, the corner bar, and the
 * gates on the panels the audience can fire. In a presenter's window, which is
 * what the room sees, the presenter's console is loaded on first use: docked in
 * reveal's speaker view (`S`), or over the slide when asked for (`C`).
 */
import type { RevealApi } from 'reveal.js';
import type { Connection } from '../connection.ts';
import { onSpeakerView } from '../../slides/speakerView.ts';
import { DeckFollower } from './follow.ts';
import { HallLink } from './hallLink.ts';
import { LiveBar } from './liveBar.ts';
import { PanelGates } from './panelGates.ts';
import type { HallConsole } from './console.ts';
import hallCss from './hall.css?inline';
import './hall.css';

export interface HallController {
  /** Brings the gates up to date (the root calls it on slide changes: panels may have rendered). */
  update(): void;
  destroy(): void;
}

/** C opens the console over the slide, in a presenter's window (reveal's own keys leave C free). */
const CONSOLE_KEY = { keyCode: 67, key: 'C', description: 'Hall console (presenter)' };

export function createHall(deck: RevealApi, connection: Connection, placeholders: readonly HTMLElement[]): HallController {
  const link = new HallLink(connection);
  let overlay: Promise<HallConsole> | null = null;
  const toggleConsole = async () => {
    if (!link.isPresenter) return;
    overlay ??= import('./console.ts').then(({ HallConsole: Console }) => {
      const made = new Console(link);
      made.render();
      return made;
    });
    (await overlay).toggle();
  };

  const bar = new LiveBar({ backToLive: () => follower.backToLive() });
  const follower = new DeckFollower(deck, link, bar);
  const gates = new PanelGates(link, placeholders);

  bar.render();
  follower.render();
  gates.render();
  link.start();

  // The key and the speaker view's console are the presenter's: bound once the server said so.
  let presenterTools: (() => void) | null = null;
  const stopWatchingRole = link.subscribe((change) => {
    if (change !== 'welcome' || !link.isPresenter || presenterTools) return;
    deck.addKeyBinding(CONSOLE_KEY, () => void toggleConsole());
    const stopDocking = onSpeakerView((view) => dockConsole(view, link));
    presenterTools = () => {
      stopDocking();
      deck.removeKeyBinding(CONSOLE_KEY.keyCode);
    };
  });

  return {
    update() {
      gates.update();
    },
    destroy() {
      stopWatchingRole();
      presenterTools?.();
      void overlay?.then((made) => made.destroy());
      gates.destroy();
      follower.destroy();
      bar.destroy();
      link.destroy();
    },
  };
}

/**
 * The console in a speaker view's page, for as long as that page is open: in its own box
 * under the current slide (hall.css, `.hall-dock`), so that the notes keep their place.
 */
function dockConsole(view: Window, link: HallLink): () => void {
  let docked: HallConsole | null = null;
  let closed = false;
  const style = view.document.createElement('style');
  style.textContent = hallCss;
  view.document.head.append(style);
  const dock = view.document.createElement('div');
  dock.className = 'hall-dock';
  view.document.body.append(dock);
  void import('./console.ts').then(({ HallConsole: Console }) => {
    if (closed) return;
    docked = new Console(link, true);
    docked.render(dock);
  });
  return () => {
    closed = true;
    docked?.destroy();
    dock.remove();
  };
}
