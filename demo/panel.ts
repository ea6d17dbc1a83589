/**
 * What every live panel is, and what it gets from the composition root.
 *
 * Panels follow reveal.js's own controllers (Controls, Progress, SlideNumber...):
 * a constructor that only stores its collaborators, then `render` (build the DOM
 * once), `configure` (apply options; may run again), `update` (bring the view up
 * to date) and `destroy` (leave no listener, timer or element behind). One shape
 * for all makes the root generic: it never knows what a panel does.
 */
import type { RevealApi } from 'reveal.js';
import type { Connection } from './connection.ts';
import type { BackendGate } from './replay/backendGate.ts';

/** The placeholder's `data-*` attributes, e.g. `data-pool="main"` is `{ pool: 'main' }`. */
export type PanelOptions = Readonly<Record<string, string | undefined>>;

export interface PanelContext {
  /** The slide's placeholder: `<div class="live-panel" data-panel="...">`. The panel renders into it. */
  element: HTMLElement;
  deck: RevealApi;
  /** The page's shared connection, opened on first call: a panel that never asks opens nothing. */
  connection(): Connection;
  /** Whether the panel's slide is on screen (current slide, page visible): for timers and animation only. */
  isVisible(): boolean;
  /** Live from the server, or a replay of the recordings when no server answers (shared by every panel). */
  backend(): BackendGate;
  /** `print`: the deck is printed (`?print-pdf`): show the last real state, still, without controls. */
  mode: 'live' | 'print';
}

export interface PanelController {
  /** Builds the panel's DOM into its placeholder. */
  render(): void;
  /** Applies the placeholder's options; subscribes to what they name (e.g. its pool). */
  configure(options: PanelOptions): void;
  /** Brings the view up to date: called on slide changes and when the page is shown or hidden. */
  update(): void;
  /** Unsubscribes, stops timers and removes what `render` added. */
  destroy(): void;
}

export type PanelFactory = (context: PanelContext) => PanelController;
