/**
 * The deck on a phone held upright: the same reveal.js deck, its slides laid out one
 * under the other as a page that reflows (slides/phone.css) instead of one 960x700
 * canvas scaled down to a third of its size.
 *
 * Why not reveal's own scroll view: it gives every slide one viewport-high page, maps
 * scroll progress to slides by counting pages (so a slide taller than the screen throws
 * the mapping off), restores an old scroll position from sessionStorage over a deep
 * link, and on leaving rebuilds the slides from an HTML snapshot, which would drop the
 * live panels' DOM. Here reveal keeps its slides and its state; only its scaling is off
 * (`disableLayout`) and this controller keeps the page's scroll and reveal's current
 * slide in step, both ways:
 * - `Reveal.slide(h, v, f)` (a key, a deep link, the presenter moving the hall) scrolls
 *   that slide to the top of the screen;
 * - scrolling makes the slide under the reading line reveal's current slide, so the
 *   hash, the slide number and everything listening to `slidechanged` follow the reader.
 * Tablets and phones held sideways keep the normal deck.
 */
import type { RevealApi, RevealConfig } from 'reveal.js';
import './phone.css';

/** Portrait and at most a large phone's width: a tablet (768+) keeps the deck. */
export const PHONE_MEDIA_QUERY = '(orientation: portrait) and (max-width: 600px)';

/** The class on <html> that slides/phone.css keys on. */
export const PHONE_CLASS = 'phone-layout';

/** Where a slide counts as "the one being read": this far down the screen. */
const READING_LINE = 0.3;

/** Pages that must keep the plain deck: reveal's print view, the speaker view's previews, and reveal's own views asked for by URL (`?view=scroll`). */
export function isSpecialView(): boolean {
  return /[?&](print-pdf|receiver|view=)/.test(window.location.search);
}

/** reveal options for a view: no scaling on a phone; reveal's scroll view never. */
function optionsFor(phone: boolean): Partial<RevealConfig> {
  return {
    // Our own layout replaces reveal's responsive scroll view at every width (0: never).
    scrollActivationWidth: 0,
    disableLayout: phone,
    // The page scrolls natively; reveal's swipe handling would fight it.
    touch: !phone,
    overview: !phone,
  };
}

export interface PhoneLayout {
  /** Options to merge into the config before `initialize()`. */
  readonly revealOptions: Partial<RevealConfig>;
  /** Whether the page is laid out for a phone now. */
  isActive(): boolean;
  /** Starts following the deck (call once reveal is ready). */
  attach(deck: RevealApi): void;
  destroy(): void;
}

export function createPhoneLayout(): PhoneLayout {
  const media = window.matchMedia(PHONE_MEDIA_QUERY);
  const allowed = !isSpecialView();
  let active = allowed && media.matches;
  let deck: RevealApi | undefined;

  /** The slide the page was last scrolled to by code; kept in view while content above it grows, until the reader scrolls. */
  let pinned: HTMLElement | null = null;
  /** Set while this controller itself moves reveal, so that its own `slidechanged` does not scroll the page. */
  let followingScroll = false;
  let scrollQueued = false;

  document.documentElement.classList.toggle(PHONE_CLASS, active);

  const resizes = new ResizeObserver(() => {
    if (active && pinned) scrollToSlide(pinned);
  });

  // reveal marks slides hidden again whenever it updates them (a move, a sync, a configure):
  // undo it each time, not only after the moves this controller hears about.
  const closedSlides = new MutationObserver((records) => {
    if (active && records.some((record) => record.target instanceof HTMLElement && record.target.hasAttribute(record.attributeName ?? ''))) openAllSlides();
  });

  function slideElements(): HTMLElement[] {
    return deck ? (deck.getSlides() as HTMLElement[]) : [];
  }

  /**
   * reveal hides, and makes inert, every slide but the current one; on a page every slide is readable
   * and usable. The columns of slides below another (vertical stacks) too, not only the slides.
   */
  function openAllSlides(): void {
    for (const slide of deck?.getSlidesElement()?.querySelectorAll<HTMLElement>('section') ?? []) {
      slide.removeAttribute('hidden');
      slide.removeAttribute('aria-hidden');
      slide.removeAttribute('inert');
    }
  }

  function scrollToSlide(slide: HTMLElement): void {
    const top = Math.round(slide.getBoundingClientRect().top + window.scrollY);
    if (Math.abs(window.scrollY - top) >= 1) window.scrollTo({ top, behavior: 'auto' });
  }

  function showCurrentSlide(): void {
    const slide = deck?.getCurrentSlide() as HTMLElement | undefined;
    if (!slide) return;
    pinned = slide;
    scrollToSlide(slide);
  }

  function onSlideChanged(): void {
    if (!active) return;
    openAllSlides();
    if (!followingScroll) showCurrentSlide();
  }

  /** The slide under the reading line. */
  function slideBeingRead(): HTMLElement | undefined {
    const line = window.innerHeight * READING_LINE;
    let candidate: HTMLElement | undefined;
    for (const slide of slideElements()) {
      const box = slide.getBoundingClientRect();
      if (box.height === 0) continue;
      if (box.top <= line) candidate = slide;
      else break;
    }
    return candidate ?? slideElements()[0];
  }

  function followScroll(): void {
    scrollQueued = false;
    if (!active || !deck || pinned) return;
    const slide = slideBeingRead();
    if (!slide || slide === deck.getCurrentSlide()) return;
    const { h, v } = deck.getIndices(slide);
    followingScroll = true;
    try {
      deck.slide(h, v);
    } finally {
      followingScroll = false;
    }
  }

  function onScroll(): void {
    if (scrollQueued) return;
    scrollQueued = true;
    requestAnimationFrame(followScroll);
  }

  /** The reader takes over: stop holding the pinned slide in view. */
  function onReaderScrolls(): void {
    pinned = null;
  }

  function onKeyDown(event: KeyboardEvent): void {
    // Keys that scroll the page; reveal's own navigation keys re-pin through `slidechanged`.
    if (['PageUp', 'PageDown', 'Home', 'End', 'ArrowUp', 'ArrowDown'].includes(event.key)) pinned = null;
  }

  function enter(): void {
    if (!deck) return;
    active = true;
    document.documentElement.classList.add(PHONE_CLASS);
    deck.configure(optionsFor(true));
    openAllSlides();
    // The page restores its own scroll position: the deck's current slide decides instead.
    if ('scrollRestoration' in history) history.scrollRestoration = 'manual';
    showCurrentSlide();
  }

  function leave(): void {
    if (!deck) return;
    active = false;
    pinned = null;
    document.documentElement.classList.remove(PHONE_CLASS);
    window.scrollTo({ top: 0, behavior: 'auto' });
    deck.configure(optionsFor(false));
    deck.sync();
    deck.layout();
  }

  function onMediaChange(): void {
    if (!allowed) return;
    if (media.matches && !active) enter();
    else if (!media.matches && active) leave();
  }

  return {
    revealOptions: optionsFor(active),
    isActive: () => active,
    attach(revealDeck) {
      deck = revealDeck;
      deck.on('slidechanged', onSlideChanged);
      window.addEventListener('scroll', onScroll, { passive: true });
      for (const type of ['wheel', 'touchstart'] as const) window.addEventListener(type, onReaderScrolls, { passive: true });
      window.addEventListener('keydown', onKeyDown);
      media.addEventListener('change', onMediaChange);
      const slides = deck.getSlidesElement();
      if (slides) {
        resizes.observe(slides);
        closedSlides.observe(slides, { subtree: true, attributeFilter: ['hidden', 'inert', 'aria-hidden'] });
      }
      if (active) enter();
    },
    destroy() {
      deck?.off('slidechanged', onSlideChanged);
      window.removeEventListener('scroll', onScroll);
      for (const type of ['wheel', 'touchstart'] as const) window.removeEventListener(type, onReaderScrolls);
      window.removeEventListener('keydown', onKeyDown);
      media.removeEventListener('change', onMediaChange);
      resizes.disconnect();
      closedSlides.disconnect();
      document.documentElement.classList.remove(PHONE_CLASS);
    },
  };
}
