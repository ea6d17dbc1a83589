/**
 * The deck: the talk's Markdown, rendered by reveal.js 6 (night theme) with the
 * Markdown, Highlight and Notes plugins. The live panels are not made here: the
 * slides carry `<div class="live-panel" data-panel="...">` placeholders and
 * `createPanels` (demo/) fills them once the deck is ready.
 */
import Reveal, { type RevealApi, type RevealConfig } from 'reveal.js';
import Markdown from 'reveal.js/plugin/markdown';
import Highlight from 'reveal.js/plugin/highlight';

// The night theme's fonts, served with the deck (see vite.config.ts: no Google Fonts at the venue):
// the faces the theme asks for, Latin only (the talk is in English). Other glyphs (arrows,
// emoji) come from the system's fonts either way. `font-display: swap`: text shows at once.
import '@fontsource/montserrat/latin-700.css';
import '@fontsource/open-sans/latin-400.css';
import '@fontsource/open-sans/latin-400-italic.css';
import '@fontsource/open-sans/latin-700.css';
import '@fontsource/open-sans/latin-700-italic.css';
import 'reveal.js/reveal.css';
import 'reveal.js/theme/night.css';
import 'reveal.js/plugin/highlight/monokai.css';
import './talk.css';
import './deck.css';

import talkSource from './idempotency-challenge.md?raw';
import { parseTalk } from './frontmatter.ts';
import { createPanels } from '../demo/index.ts';
import { createPhoneLayout, isSpecialView } from './phoneLayout.ts';
import { createReaderNotes } from './readerNotes.ts';
import { renderEmoji } from './emoji.ts';
import { slideNumberOptions } from '../demo/slideNumber.ts';
import { watchSpeakerViews } from './speakerView.ts';

declare global {
  interface Window {
    /** The running deck, for the console and the end-to-end tests. */
    Reveal?: RevealApi;
  }
}

/** Options the speaker view reads from the config that reveal's types do not list. */
interface PacingConfig {
  /** Seconds for the whole talk: the speaker view's pacing timer spreads them over the slides. */
  totalTime?: number;
  /** Seconds: the speaker view warns when the pacing gives a slide less. */
  minimumTimePerSlide?: number;
}

const talk = parseTalk(talkSource);
if (typeof talk.meta.title === 'string' && talk.meta.title !== '') document.title = talk.meta.title;

const revealElement = document.querySelector<HTMLElement>('.reveal');
const slidesElement = revealElement?.querySelector<HTMLElement>('.slides');
if (!revealElement || !slidesElement) throw new Error('index.html must contain .reveal > .slides');

// One <section data-markdown> that reveal's Markdown plugin splits into slides on `---`
// lines, into a slide below the one before on `--` lines (a vertical slide: an extra
// under the slide it belongs to, so the talk's own slide numbers and `/#/N` links stay),
// and into notes on `Note:` lines. The template is filled through the DOM, so the
// Markdown needs no escaping.
const markdownSection = document.createElement('section');
markdownSection.setAttribute('data-markdown', '');
const template = document.createElement('textarea');
template.setAttribute('data-template', '');
template.textContent = talk.body;
markdownSection.append(template);
slidesElement.replaceChildren(markdownSection);

/** A line of just `--` puts the next slide below the one before (reveal's default: no vertical slides). */
const VERTICAL_SEPARATOR = '\r?\n--\r?\n';

const duration = typeof talk.meta.duration === 'number' && talk.meta.duration > 0 ? talk.meta.duration : undefined;

// Decided before reveal starts: on a phone held upright the deck is laid out as a page.
const phoneLayout = createPhoneLayout();

const config: RevealConfig & PacingConfig = {
  hash: true,
  history: false,
  keyboard: true,
  overview: true,
  controls: true,
  progress: true,
  center: true,
  transition: 'slide',
  width: 960,
  height: 700,
  margin: 0.04,
  // One PDF page per slide, fragments shown.
  pdfSeparateFragments: false,
  // GitHub-style line breaks: the talk writes one item per line without blank lines between.
  markdown: { gfm: true, breaks: true, verticalSeparator: VERTICAL_SEPARATOR },
  // Notes (the speaker view) is registered once the deck is up: see below.
  plugins: [Markdown, Highlight],
  ...(duration ? { totalTime: Math.round(duration * 60), minimumTimePerSlide: 5 } : {}),
  ...phoneLayout.revealOptions,
  ...slideNumberOptions(isSpecialView()),
};

const deck = new Reveal(revealElement, config);
window.Reveal = deck;

await deck.initialize();

renderEmoji(slidesElement);
const readerNotes = isSpecialView() ? undefined : createReaderNotes(deck, { isPhoneLayout: phoneLayout.isActive });
phoneLayout.attach(deck);
const speakerViews = watchSpeakerViews(deck);

// The speaker view is for the presenter's laptop, never needed to show the first slide:
// it loads after it (reveal initialises a plugin registered late at once, `S` included).
void import('reveal.js/plugin/notes').then(({ default: Notes }) => deck.registerPlugin(Notes()));

// Panels render into their placeholders after this, and an empty placeholder takes no
// room: whenever a slide's size changes, let reveal centre and scale it again.
let relayoutQueued = false;
const relayout = new ResizeObserver(() => {
  if (relayoutQueued) return;
  relayoutQueued = true;
  requestAnimationFrame(() => {
    relayoutQueued = false;
    deck.layout();
  });
});
for (const slide of deck.getSlides()) relayout.observe(slide);

const panels = createPanels(deck);

if (import.meta.hot) {
  import.meta.hot.dispose(() => {
    panels.destroy();
    readerNotes?.destroy();
    phoneLayout.destroy();
    speakerViews.destroy();
    relayout.disconnect();
    deck.destroy();
  });
}
