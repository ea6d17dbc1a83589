/**
 * The hall in the page: one link to the server's deck state, the follower (or,
 * in the presenter's window, the driver) of the deck, the corner bar, and the
 * gates on the panels the audience can fire. The presenter's console is loaded
 * only in a presenter's window, on first use.
 */
import type { RevealApi } from 'reveal.js';
import type { Connection } from '../connection.ts';
import { DeckFollower } from './follow.ts';
import { HallLink } from './hallLink.ts';
import { LiveBar } from './liveBar.ts';
import { PanelGates } from './panelGates.ts';
import type { HallConsole } from './console.ts';
import './hall.css';

export interface HallController {
  /** Brings the gates up to date (the root calls it on slide changes: panels may have rendered). */
  update(): void;
  destroy(): void;
}

/** H opens the console in a presenter's window. */
const CONSOLE_KEY = { keyCode: 72, key: 'H', description: 'Hall console (presenter)' };

export function createHall(deck: RevealApi, connection: Connection, placeholders: readonly HTMLElement[]): HallController {
  const link = new HallLink(connection);
  let hallConsole: HallConsole | null = null;
  let consoleLoading: Promise<HallConsole> | null = null;
  const openConsole = async () => {
    if (!link.isPresenter) return;
    consoleLoading ??= import('./console.ts').then(({ HallConsole: Console }) => {
      const made = new Console(link);
      made.render();
      return made;
    });
    hallConsole = await consoleLoading;
    hallConsole.toggle();
  };

  const bar = new LiveBar({ backToLive: () => follower.backToLive(), openConsole: () => void openConsole() });
  const follower = new DeckFollower(deck, link, bar);
  const gates = new PanelGates(link, placeholders);

  bar.render();
  follower.render();
  gates.render();
  link.start();
  deck.addKeyBinding(CONSOLE_KEY, () => void openConsole());

  return {
    update() {
      gates.update();
    },
    destroy() {
      deck.removeKeyBinding(CONSOLE_KEY.keyCode);
      hallConsole?.destroy();
      gates.destroy();
      follower.destroy();
      bar.destroy();
      link.destroy();
    },
  };
}
