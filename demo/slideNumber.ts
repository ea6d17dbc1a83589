/**
 * One number per slide, the same everywhere: the address bar (`/#/6`, a slide below
 * another `/#/3/2`), reveal's counter ("6", "3/2"), the hall console and a phone's
 * "Live is on slide 6". reveal counts its hash from 1 here, and its counter uses the
 * hash's own `h/v` form, so both read the same; the hall names slides with `slideName`.
 *
 * The speaker view's previews keep reveal's default (a hash from 0): the notes plugin
 * builds their URLs from 0-based indices.
 */
import type { RevealConfig } from 'reveal.js';

export function slideNumberOptions(specialView: boolean): Partial<RevealConfig> {
  return { slideNumber: 'h/v', hashOneBasedIndex: !specialView };
}

/** A slide as the hash and the counter name it: "6", or "3/2" for the second slide of column 3. */
export function slideName({ h, v }: { h: number; v: number }): string {
  return `${h + 1}${v ? `/${v + 1}` : ''}`;
}
