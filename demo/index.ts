/**
 * The live panels' composition root: the one place that knows every panel, the
 * page's mode and the shared connection. The deck calls `createPanels` once reveal
 * is ready; each `[data-panel]` placeholder in a slide gets the panel its name
 * registers (registry.ts), all panels share one socket.io connection, and
 * `destroy()` undoes everything (Vite's hot reload calls it).
 */
import type { RevealApi } from 'reveal.js';
import { Connection } from './connection.ts';
import { h } from './dom.ts';
import { pageMode, type PageMode } from './environment.ts';
import type { PanelController, PanelOptions } from './panel.ts';
import { PANELS } from './registry.ts';
import './panels.css';

export interface Panels {
  destroy(): void;
}

export function createPanels(deck: RevealApi): Panels {
  const root = deck.getRevealElement() ?? document;
  const placeholders = [...root.querySelectorAll<HTMLElement>('[data-panel]')].filter((element) => {
    const name = element.dataset.panel ?? '';
    return Object.hasOwn(PANELS, name);
  });

  const mode = pageMode(deck);
  if (mode !== 'live') return renderStatic(placeholders, mode);

  // Opened by the first panel that asks, so a deck without live panels opens no socket.
  let connection: Connection | null = null;
  const sharedConnection = () => (connection ??= new Connection());

  const controllers: PanelController[] = [];
  for (const element of placeholders) {
    const factory = PANELS[element.dataset.panel ?? ''];
    if (!factory) continue;
    const slide = element.closest('section');
    try {
      const controller = factory({
        element,
        deck,
        connection: sharedConnection,
        isVisible: () => !document.hidden && slide !== null && slide.classList.contains('present'),
      });
      controller.render();
      controller.configure(optionsOf(element));
      controller.update();
      controllers.push(controller);
    } catch (error) {
      // One broken panel must not take the deck (or the other panels) down with it.
      console.error(`live panel "${element.dataset.panel}" failed to start`, error);
      element.replaceChildren(h('div', { className: 'lp-static', text: 'This live demo could not start.' }));
    }
  }

  // Panels stay subscribed on every slide (it is one room per pool, and a viewer who
  // comes back should find the state current at once); only their timers follow visibility.
  const update = () => {
    for (const controller of controllers) controller.update();
  };
  const deckEvents = ['slidechanged', 'ready', 'overviewshown', 'overviewhidden'] as const;
  for (const event of deckEvents) deck.on(event, update);
  document.addEventListener('visibilitychange', update);

  return {
    destroy() {
      for (const event of deckEvents) deck.off(event, update);
      document.removeEventListener('visibilitychange', update);
      for (const controller of controllers.splice(0)) controller.destroy();
      connection?.destroy();
      connection = null;
    },
  };
}

/** The placeholder's data attributes, copied: a panel must not hold on to the live DOMStringMap. */
function optionsOf(element: HTMLElement): PanelOptions {
  return { ...element.dataset };
}

/**
 * The speaker view's previews and the PDF get a still note instead of a panel:
 * no socket, no buttons, nothing that could act on the real pool.
 */
function renderStatic(placeholders: HTMLElement[], mode: Exclude<PageMode, 'live'>): Panels {
  const site = `${window.location.origin}${window.location.pathname}`;
  for (const element of placeholders) {
    const note =
      mode === 'print'
        ? h('div', { className: 'lp-static' }, h('strong', { text: 'Live demo: open the site to run it' }), h('span', { className: 'lp-static-url', text: site }))
        : h('div', { className: 'lp-static' }, h('strong', { text: 'Live demo' }), h('span', { text: 'runs on the main screen, not in this preview' }));
    element.replaceChildren(note);
  }
  return {
    destroy() {
      for (const element of placeholders) element.replaceChildren();
    },
  };
}
