/**
 * The speaker notes as text, for someone reading the talk alone.
 *
 * The notes stay where reveal's Markdown plugin put them (`aside.notes`, what the
 * speaker view shows); this adds a copy a reader can see, behind one toggle:
 * - in the phone layout, each slide's notes under that slide, with a button on each
 *   slide that shows or hides them all; on by default there, unless a talk is live
 *   (the hall marks <html> with `talk-live`): a phone in the hall gets the talk;
 * - in the deck, the current slide's notes in a strip under the stage (the stage
 *   shrinks to make room), with a small button in the corner; off by default, since the
 *   deck is also what the hall sees on the big screen.
 */
import type { RevealApi } from 'reveal.js';
import { renderEmoji } from './emoji.ts';
import './readerNotes.css';

/** The class on <html> while notes are shown. */
export const NOTES_SHOWN_CLASS = 'reader-notes-on';

export interface ReaderNotes {
  /** Shows or hides the notes (`undefined`: the other way round). */
  toggle(show?: boolean): void;
  isShown(): boolean;
  destroy(): void;
}

/** The class on <html> while this page is a viewer in a live talk (set by demo/hall/follow.ts). */
export const TALK_LIVE_CLASS = 'talk-live';

/**
 * The notes' items that are the speaker's cues, by the bold label they start with (the
 * talk's notes are written that way): the pacing line, what to do before starting,
 * where to click, what to do without a panel. A reader gets the rest, and the words
 * to "Say" as plain text.
 */
const SPEAKER_CUE = /^(⏱|Before you start|Click|No panel)/u;
const SAY_LABEL = /^Say:?$/;

/** The notes of a slide as a reader's copy, or null when it has none. */
function readersCopy(slide: Element): HTMLElement | null {
  const notes = slide.querySelector(':scope > aside.notes');
  if (!notes || notes.textContent?.trim() === '') return null;
  const copy = document.createElement('div');
  copy.className = 'reader-notes-text';
  for (const child of notes.childNodes) copy.append(child.cloneNode(true));
  for (const item of copy.querySelectorAll('p, li')) {
    const lead = item.firstElementChild?.tagName === 'STRONG' && item.firstChild === item.firstElementChild ? item.firstElementChild.textContent?.trim() ?? '' : '';
    if (SPEAKER_CUE.test(lead) || SPEAKER_CUE.test(item.textContent?.trim() ?? '')) item.remove();
    else if (SAY_LABEL.test(lead)) item.firstElementChild?.remove();
  }
  for (const list of copy.querySelectorAll('ul, ol')) if (!list.children.length) list.remove();
  if (copy.textContent?.trim() === '') return null;
  renderEmoji(copy);
  return copy;
}

function toggleButton(label: string): HTMLButtonElement {
  const button = document.createElement('button');
  button.type = 'button';
  button.className = 'reader-notes-toggle';
  button.textContent = label;
  return button;
}

export function createReaderNotes(deck: RevealApi, options: { isPhoneLayout(): boolean }): ReaderNotes {
  const root = document.documentElement;
  const added: HTMLElement[] = [];
  const buttons: HTMLButtonElement[] = [];
  let shown = false;
  /** Whether the reader has chosen: then a change of layout keeps their choice. */
  let chosen = false;

  // In each slide, after its content: the button and the notes (slides/phone.css shows them on a phone only).
  for (const slide of deck.getSlides()) {
    const text = readersCopy(slide);
    if (!text) continue;
    const block = document.createElement('div');
    block.className = 'reader-notes';
    block.setAttribute('data-reader-notes', '');
    const button = toggleButton('Speaker notes');
    block.append(button, text);
    slide.append(block);
    added.push(block);
    buttons.push(button);
  }

  // The deck's strip under the stage, and its corner button.
  const strip = document.createElement('section');
  strip.className = 'reader-notes-strip';
  strip.setAttribute('aria-label', 'Speaker notes');
  strip.setAttribute('aria-live', 'polite');
  const cornerButton = toggleButton('Notes');
  cornerButton.classList.add('reader-notes-corner');
  document.body.append(strip, cornerButton);
  buttons.push(cornerButton);

  function fillStrip(): void {
    const slide = deck.getCurrentSlide();
    const text = slide ? readersCopy(slide) : null;
    strip.replaceChildren(text ?? Object.assign(document.createElement('p'), { className: 'reader-notes-none', textContent: 'No notes on this slide.' }));
  }

  function render(): void {
    root.classList.toggle(NOTES_SHOWN_CLASS, shown);
    for (const button of buttons) {
      button.setAttribute('aria-pressed', String(shown));
      button.title = shown ? 'Hide the speaker notes' : 'Show the speaker notes';
    }
    for (const block of added) {
      const button = block.querySelector('.reader-notes-toggle');
      if (button) button.textContent = shown ? 'Hide speaker notes' : 'Show speaker notes';
    }
    if (shown && !options.isPhoneLayout()) fillStrip();
    // The stage's height changed: let reveal scale the slide again.
    if (!options.isPhoneLayout()) deck.layout();
  }

  function toggle(show?: boolean): void {
    shown = show ?? !shown;
    render();
  }

  function onClick(event: MouseEvent): void {
    const button = (event.target as Element | null)?.closest('.reader-notes-toggle');
    if (!button) return;
    chosen = true;
    // Keep the pressed button where it was: the page above it may change height.
    const before = button.getBoundingClientRect().top;
    toggle();
    const after = button.getBoundingClientRect().top;
    if (options.isPhoneLayout() && after !== before) window.scrollBy({ top: after - before, behavior: 'auto' });
  }

  function onSlideChanged(): void {
    if (shown && !options.isPhoneLayout()) fillStrip();
  }

  /** On for a phone read alone, off for the deck and for a phone in a live talk. */
  const byDefault = () => options.isPhoneLayout() && !root.classList.contains(TALK_LIVE_CLASS);

  /** The default for a layout; a reader's own choice wins. */
  function onLayoutChange(): void {
    if (!chosen) shown = byDefault();
    render();
  }

  // The phone layout comes and goes with the screen's orientation, a talk with its presenter (classes on <html>).
  let lastLayout = `${options.isPhoneLayout()} ${byDefault()}`;
  function onRootClass(): void {
    const layout = `${options.isPhoneLayout()} ${byDefault()}`;
    if (layout === lastLayout) return;
    lastLayout = layout;
    onLayoutChange();
  }
  const rootClasses = new MutationObserver(onRootClass);
  rootClasses.observe(root, { attributes: true, attributeFilter: ['class'] });

  document.addEventListener('click', onClick);
  deck.on('slidechanged', onSlideChanged);
  shown = byDefault();
  render();

  return {
    toggle(show) {
      chosen = true;
      toggle(show);
    },
    isShown: () => shown,
    destroy() {
      rootClasses.disconnect();
      document.removeEventListener('click', onClick);
      deck.off('slidechanged', onSlideChanged);
      for (const block of added) block.remove();
      strip.remove();
      cornerButton.remove();
      root.classList.remove(NOTES_SHOWN_CLASS);
    },
  };
}
