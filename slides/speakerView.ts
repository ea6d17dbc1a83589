/**
 * reveal's speaker view (`S`), made to fit this deck. The notes plugin writes the view's
 * page into a popup of the deck's window and loads the deck twice more in it, as the
 * *Current* and *Upcoming* previews (iframes with `?receiver` in their URL):
 * - the popup is found by the messages it sends its opener (on connecting, then a
 *   heartbeat every second, also after the deck's window was reloaded), and gets the
 *   deck's emoji images in its notes and whatever else asks for it (`onSpeakerView`:
 *   the hall docks its console there, where the presenter looks);
 * - *Upcoming* is told `next` after every move, which steps down into a column of
 *   slides; the presenter moves on with →, which steps right: that preview answers
 *   `next` as → does.
 */
import type { RevealApi } from 'reveal.js';
import { renderEmoji } from './emoji.ts';
import emojiCss from './emoji.css?inline';

export type SpeakerViewListener = (view: Window) => (() => void) | void;

const listeners = new Set<SpeakerViewListener>();
const views = new Map<Window, (() => void)[]>();

/** Calls `listener` for every speaker view, open now or later; what it returns runs when that view closes. */
export function onSpeakerView(listener: SpeakerViewListener): () => void {
  listeners.add(listener);
  for (const [view, cleanups] of views) track(view, cleanups, listener);
  return () => listeners.delete(listener);
}

function track(view: Window, cleanups: (() => void)[], listener: SpeakerViewListener): void {
  const cleanup = listener(view);
  if (cleanup) cleanups.push(cleanup);
}

/** The speaker view's own page (same origin, with its controls), or null for any other sender. */
function speakerViewOf(source: MessageEventSource | null): Window | null {
  if (!source || !('document' in source)) return null;
  try {
    return source.document.querySelector('#speaker-controls') ? source : null;
  } catch {
    return null;
  }
}

function adopt(view: Window): void {
  const cleanups: (() => void)[] = [];
  views.set(view, cleanups);
  const style = view.document.createElement('style');
  style.textContent = emojiCss;
  view.document.head.append(style);
  const notes = view.document.querySelector('.speaker-controls-notes .value');
  if (notes) {
    // The plugin replaces the notes' HTML on every move: draw their emoji each time.
    const redraw = new MutationObserver(() => renderEmoji(notes));
    redraw.observe(notes, { childList: true });
    renderEmoji(notes);
    cleanups.push(() => redraw.disconnect());
  }
  for (const listener of listeners) track(view, cleanups, listener);
  view.addEventListener('pagehide', () => {
    views.delete(view);
    for (const cleanup of cleanups.splice(0)) cleanup();
  });
}

/** The speaker view's "show the next slide" call to a preview (reveal's postMessage API). */
function isNextCall(data: unknown): boolean {
  if (typeof data !== 'string' || !data.startsWith('{')) return false;
  try {
    return (JSON.parse(data) as { method?: unknown }).method === 'next';
  } catch {
    return false;
  }
}

export function watchSpeakerViews(deck: RevealApi): { destroy(): void } {
  const search = window.location.search;
  // The Upcoming preview (the Current one is the one that posts its events).
  const upcoming = /receiver/i.test(search) && !/postMessageEvents/i.test(search);
  const onMessage = (event: MessageEvent) => {
    if (upcoming) {
      // Ahead of reveal's own handler (a capturing listener runs first on the window).
      if (event.source === window.parent && isNextCall(event.data)) {
        event.stopImmediatePropagation();
        deck.right();
      }
      return;
    }
    const view = speakerViewOf(event.source);
    if (view && !views.has(view)) adopt(view);
  };
  window.addEventListener('message', onMessage, { capture: upcoming });
  return {
    destroy() {
      window.removeEventListener('message', onMessage, { capture: upcoming });
    },
  };
}
