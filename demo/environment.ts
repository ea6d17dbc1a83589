/**
 * Where the deck is running, as far as the live panels care.
 *
 * - `speaker-preview`: reveal's notes plugin loads the deck twice more in the speaker
 *   view, as iframes whose URL carries `?receiver&progress=false&...`. Panels there
 *   must neither connect (three sockets per presenter) nor act (a click would hit
 *   the real pool twice). reveal itself tests `/receiver/i` on the query string.
 * - `print`: `?print-pdf` (or `view: 'print'`): a PDF cannot run a demo.
 * - `live`: everything else.
 */
import type { RevealApi } from 'reveal.js';

export type PageMode = 'live' | 'speaker-preview' | 'print';

export function pageMode(deck: RevealApi, location: Pick<Location, 'search'> = window.location): PageMode {
  const config = deck.getConfig() as { view?: string | null };
  if (/print-pdf/i.test(location.search) || config.view === 'print') return 'print';
  // The same test as reveal's isSpeakerNotes(), read here directly because reveal's
  // typings and runtime do not agree on every `is...()` method across versions.
  if (/receiver/i.test(location.search)) return 'speaker-preview';
  return 'live';
}
