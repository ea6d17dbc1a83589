/**
 * The talk's emoji, drawn from the deck's own images rather than from a system emoji
 * font: a machine without one (Debian's default) would show nothing or empty boxes.
 *
 * Only the glyphs the talk uses ship (Twemoji SVGs, a few hundred bytes each). Each
 * emoji stays in the text, wrapped in a span that paints the image and makes the
 * character itself transparent: copying, searching, screen readers and `textContent`
 * still see the emoji. Graphics: Twemoji, CC-BY 4.0 (credited on the sources slide).
 */
import checkMark from '@twemoji/svg/2705.svg?url';
import crossMark from '@twemoji/svg/274c.svg?url';
import warning from '@twemoji/svg/26a0.svg?url';
import stopwatch from '@twemoji/svg/23f1.svg?url';
import triumph from '@twemoji/svg/1f624.svg?url';
import pouting from '@twemoji/svg/1f621.svg?url';
import handshake from '@twemoji/svg/1f91d.svg?url';
import pensive from '@twemoji/svg/1f614.svg?url';
import lotus from '@twemoji/svg/1f9d8.svg?url';
import './emoji.css';

/** Each emoji the talk uses, by its code point, with its image. */
export const TALK_EMOJI: ReadonlyMap<string, string> = new Map([
  ['\u2705', checkMark], // ✅
  ['\u274C', crossMark], // ❌
  ['\u26A0', warning], // ⚠
  ['\u23F1', stopwatch], // ⏱
  ['\u{1F624}', triumph], // 😤
  ['\u{1F621}', pouting], // 😡
  ['\u{1F91D}', handshake], // 🤝
  ['\u{1F614}', pensive], // 😔
  ['\u{1F9D8}', lotus], // 🧘
]);

/** One of the emoji, with the variation selector that may follow it. */
const EMOJI_PATTERN = new RegExp(`(?:${[...TALK_EMOJI.keys()].join('|')})\\uFE0F?`, 'gu');

/**
 * Wraps every emoji of the talk under `root` in a span that draws it; `root` may be in
 * another window's document (the speaker view's), which then needs emoji.css too.
 */
export function renderEmoji(root: Element): void {
  const document = root.ownerDocument;
  const walker = document.createTreeWalker(root, NodeFilter.SHOW_TEXT);
  const textNodes: Text[] = [];
  for (let node = walker.nextNode(); node; node = walker.nextNode()) {
    const text = node as Text;
    // Not in the speaker notes' source: the speaker view renders its own copy (demo/hall/speakerView.ts).
    if (text.parentElement?.closest('.emoji, aside.notes')) continue;
    EMOJI_PATTERN.lastIndex = 0;
    if (EMOJI_PATTERN.test(text.data)) textNodes.push(text);
  }
  for (const text of textNodes) {
    const parts: (string | Node)[] = [];
    let last = 0;
    for (const match of text.data.matchAll(EMOJI_PATTERN)) {
      const index = match.index ?? 0;
      if (index > last) parts.push(text.data.slice(last, index));
      const image = TALK_EMOJI.get(String.fromCodePoint(match[0].codePointAt(0) ?? 0));
      const span = document.createElement('span');
      span.className = 'emoji';
      span.textContent = match[0];
      if (image) span.style.backgroundImage = `url("${image}")`;
      span.setAttribute('role', 'img');
      span.setAttribute('aria-label', match[0]);
      parts.push(span);
      last = index + match[0].length;
    }
    if (last < text.data.length) parts.push(text.data.slice(last));
    text.replaceWith(...parts);
  }
}
