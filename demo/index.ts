/**
 * The live panels' composition root: the one place that knows every panel, the
 * page's mode and the shared connection. The deck calls `createPanels` once reveal
 * is ready; each `[data-panel]` placeholder in a slide gets the panel its name
 * registers (registry.ts), all panels share one socket.io connection, and
 * `destroy()` undoes everything (Vite's hot reload calls it).
 *
 * A panel's code (and socket.io's) is loaded when its slide comes near: the
 * current slide or the one before or after it. The first slide needs none of it.
 */
import type { RevealApi } from 'reveal.js';
import type { Connection } from './connection.ts';
import type { HallController } from './hall/index.ts';
import { h } from './dom.ts';
import { pageMode } from './environment.ts';
import type { BackendGate } from './replay/backendGate.ts';
import type { PanelController, PanelOptions } from './panel.ts';
import { PANELS } from './registry.ts';
import './panels.css';

/** How many slides ahead (and behind) a panel starts loading: the next press should find it there. */
const NEAR_SLIDES = 1;

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
  if (mode === 'speaker-preview') return renderPreviewNotes(placeholders);

  // Opened by the first panel that asks, so a deck without live panels opens no socket.
  // A static build never connects: there is no server to answer.
  let connection: Connection | null = null;
  let hall: HallController | null = null;
  let gate: BackendGate | null = null;
  let destroyed = false;
  const controllers: PanelController[] = [];
  const started = new Set<HTMLElement>();

  const start = async (element: HTMLElement) => {
    const name = element.dataset.panel ?? '';
    const slide = element.closest('section');
    let loaded;
    try {
      loaded = await Promise.all([PANELS[name]!(), import('./connection.ts'), import('./replay/backendGate.ts')]);
    } catch (error) {
      // A chunk that failed to download (flaky Wi-Fi) is tried again when its slide comes near again.
      console.error(`live panel "${name}" could not be loaded`, error);
      started.delete(element);
      if (!destroyed) element.replaceChildren(h('div', { className: 'lp-static', text: 'This live demo could not load yet.' }));
      return;
    }
    if (destroyed) return;
    const [factory, { Connection: SharedConnection }, { BackendGate: Gate, STATIC_BUILD }] = loaded;
    const sharedConnection = () => (connection ??= new SharedConnection({ autoConnect: !STATIC_BUILD }));
    try {
      const controller = factory({
        element,
        deck,
        connection: sharedConnection,
        isVisible: () => !document.hidden && slide !== null && slide.classList.contains('present'),
        backend: () => (gate ??= new Gate(STATIC_BUILD ? null : sharedConnection())),
        mode,
      });
      element.replaceChildren();
      controller.render();
      controller.configure(optionsOf(element));
      controller.update();
      controllers.push(controller);
    } catch (error) {
      // One broken panel must not take the deck (or the other panels) down with it.
      console.error(`live panel "${name}" failed to start`, error);
      element.replaceChildren(h('div', { className: 'lp-static', text: 'This live demo could not start.' }));
    }
  };

  const startNearPanels = () => {
    const current = deck.getIndices().h;
    for (const element of placeholders) {
      if (started.has(element)) continue;
      const slide = element.closest('section');
      // Printed, every slide is on paper at once: every panel starts.
      if (!slide || (mode !== 'print' && Math.abs(deck.getIndices(slide).h - current) > NEAR_SLIDES)) continue;
      started.add(element);
      void start(element);
    }
  };
  startNearPanels();

  // Every live page is part of the hall (it follows the presenter, or is the presenter's):
  // loaded right after the deck is up, not before the first slide shows. A PDF or a static
  // build has no hall to follow.
  if (mode === 'live') {
    void Promise.all([import('./hall/index.ts'), import('./connection.ts'), import('./replay/backendGate.ts')]).then(
      ([{ createHall }, { Connection: SharedConnection }, { STATIC_BUILD }]) => {
        if (destroyed || STATIC_BUILD) return;
        hall = createHall(deck, (connection ??= new SharedConnection()), placeholders);
      },
      (error: unknown) => console.error('the hall could not be loaded: this page does not follow the presenter', error),
    );
  }

  // Panels stay subscribed on every slide once started (it is one room per pool, and a viewer
  // who comes back should find the state current at once); only their timers follow visibility.
  const update = () => {
    startNearPanels();
    for (const controller of controllers) controller.update();
    hall?.update();
  };
  const deckEvents = ['slidechanged', 'ready', 'overviewshown', 'overviewhidden'] as const;
  for (const event of deckEvents) deck.on(event, update);
  document.addEventListener('visibilitychange', update);

  return {
    destroy() {
      destroyed = true;
      for (const event of deckEvents) deck.off(event, update);
      document.removeEventListener('visibilitychange', update);
      for (const controller of controllers.splice(0)) controller.destroy();
      hall?.destroy();
      hall = null;
      gate?.destroy();
      gate = null;
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
 * The speaker view's previews get a still note instead of a panel: no socket, no
 * buttons, nothing that could act on the real pool (the main screen shows it).
 */
function renderPreviewNotes(placeholders: HTMLElement[]): Panels {
  for (const element of placeholders) {
    element.replaceChildren(h('div', { className: 'lp-static' }, h('strong', { text: 'Live demo' }), h('span', { text: 'runs on the main screen, not in this preview' })));
  }
  return {
    destroy() {
      for (const element of placeholders) element.replaceChildren();
    },
  };
}
