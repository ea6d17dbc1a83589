/**
 * The deck on a phone (390x844, portrait) against the real site: the built deck, the
 * API, socket.io and a private Redis, so the live panels render as they do in a hall.
 * What a person sees is measured in the page: effective text size (computed size times
 * any scale applied above the element), code size, the height of everything tappable,
 * and sideways overflow, on every slide, reached the way the hall reaches it
 * (`Reveal.slide`). Then deep links, reading by scrolling, the notes under each slide,
 * the layouts that must stay the normal deck, and the emoji drawn without an emoji font.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { Page } from 'playwright-core';
import { PNG } from 'pngjs';
import { startDeckSite, type DeckSite } from '../support/deckSite.ts';
import { slidesAtRest } from '../../tools/deckPage.ts';

const PHONE = { width: 390, height: 844 };
/** A phone's browser, so that reveal takes its mobile paths too. */
const PHONE_USER_AGENT =
  'Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0 Mobile Safari/537.36';
const WAIT = { timeout: 10_000 };
const LUA = 'The Lua Script Solution';
/**
 * The Lua slide's index, from the talk's Markdown (reveal splits it into slides on `---`
 * lines): 5 today, so its deep link is `/#/6` (the address counts from 1); counted, so that a slide added before it
 * moves the link instead of breaking this file.
 */
const LUA_INDEX = readFileSync(fileURLToPath(new URL('../../slides/idempotency-challenge.md', import.meta.url)), 'utf8')
  .replace(/^---\n[\s\S]*?\n---\n/, '')
  .split(/\r?\n---\r?\n/)
  .findIndex((slide) => slide.includes(`## ${LUA}`));

let deck: DeckSite | undefined;

before(async () => {
  deck = await startDeckSite();
});

after(() => deck?.close());

interface Opened {
  page: Page;
  errors: Error[];
}

async function open(path: string, viewport = PHONE, phone = true): Promise<Opened> {
  assert.ok(deck, 'browser and site started');
  const context = await deck.newContext({
    viewport,
    ...(phone ? { isMobile: true, hasTouch: true, userAgent: PHONE_USER_AGENT } : {}),
  });
  // The test runner compiles these files keeping function names (esbuild's __name helper):
  // functions passed to the page need that helper there too.
  await context.addInitScript('window.__name = (fn) => fn');
  const page = await context.newPage();
  const errors: Error[] = [];
  page.on('pageerror', (error) => errors.push(error));
  await page.goto(`${deck.site.url}${path}`);
  await page.waitForFunction(() => window.Reveal?.isReady() === true, null, WAIT);
  return { page, errors };
}

/** What one slide looks like on the screen, measured in the page. */
interface SlideReport {
  title: string;
  current: boolean;
  top: number;
  transformed: boolean;
  smallText: string[];
  smallCode: string[];
  shortTargets: string[];
  pageWidth: number;
  sticksOut: string[];
  codeWithoutScroll: string[];
  panels: number;
}

/** Measures the slide at index `h` (which must be reveal's current slide). */
function measureSlide(page: Page, h: number): Promise<SlideReport> {
  return page.evaluate((index) => {
    const slide = window.Reveal!.getSlides()[index] as HTMLElement;
    const name = (element: Element) =>
      `${element.tagName.toLowerCase()}${element.className && typeof element.className === 'string' ? '.' + element.className.trim().split(/\s+/).join('.') : ''} "${(element.textContent ?? '').trim().slice(0, 40)}"`;
    const shown = (element: Element) => {
      const box = element.getBoundingClientRect();
      if (box.width === 0 || box.height === 0) return false;
      const style = getComputedStyle(element);
      return style.visibility !== 'hidden' && Number(style.opacity) > 0;
    };
    /** The scale applied to an element by the transforms and zoom on it and above it. */
    const scaleOf = (element: HTMLElement) => {
      let scale = 1;
      for (let node: HTMLElement | null = element; node; node = node.parentElement) {
        const style = getComputedStyle(node);
        if (style.transform !== 'none') {
          const matrix = new DOMMatrix(style.transform);
          scale *= Math.hypot(matrix.a, matrix.b);
        }
        const zoom = parseFloat(style.zoom);
        if (zoom > 0) scale *= zoom;
      }
      return scale;
    };
    const clippedSideways = (element: Element) => {
      for (let parent = element.parentElement; parent && parent !== slide; parent = parent.parentElement) {
        if (['auto', 'scroll', 'hidden', 'clip'].includes(getComputedStyle(parent).overflowX)) return true;
      }
      return false;
    };

    const smallText: string[] = [];
    const smallCode: string[] = [];
    const sticksOut: string[] = [];
    for (const element of slide.querySelectorAll<HTMLElement>('*')) {
      if (element.closest('aside.notes') || !shown(element)) continue;
      const ownText = [...element.childNodes].some((node) => node.nodeType === Node.TEXT_NODE && (node.textContent ?? '').trim() !== '');
      if (ownText && !element.classList.contains('emoji')) {
        const style = getComputedStyle(element);
        const size = parseFloat(style.fontSize) * scaleOf(element);
        const monospace = /mono|courier|consolas|menlo/i.test(style.fontFamily);
        if (monospace && size < 13) smallCode.push(`${name(element)} ${size.toFixed(1)}px`);
        if (!monospace && size < 16) smallText.push(`${name(element)} ${size.toFixed(1)}px`);
      }
      const box = element.getBoundingClientRect();
      if ((box.right > window.innerWidth + 1 || box.left < -1) && !clippedSideways(element)) sticksOut.push(`${name(element)} ${Math.round(box.left)}..${Math.round(box.right)}`);
    }

    const shortTargets = [...slide.querySelectorAll<HTMLElement>('button, select, input, [role="button"], [role="radio"], a[href]')]
      .filter((element) => shown(element) && !element.closest('aside.notes'))
      .filter((element) => element.tagName !== 'A' || element.closest('li, p') === null)
      .filter((element) => element.getBoundingClientRect().height < 44)
      .map((element) => `${name(element)} ${element.getBoundingClientRect().height.toFixed(1)}px`);

    const codeWithoutScroll = [...slide.querySelectorAll<HTMLElement>('pre code')]
      .filter((code) => shown(code) && code.scrollWidth > code.clientWidth + 1 && !['auto', 'scroll'].includes(getComputedStyle(code).overflowX))
      .map(name);

    const slides = document.querySelector<HTMLElement>('.reveal .slides')!;
    return {
      title: slide.querySelector('h1, h2')?.textContent?.trim() ?? '',
      current: window.Reveal!.getCurrentSlide() === slide,
      top: slide.getBoundingClientRect().top,
      transformed: scaleOf(slides) !== 1,
      smallText,
      smallCode,
      shortTargets,
      pageWidth: Math.max(document.documentElement.scrollWidth, document.body.scrollWidth),
      sticksOut,
      codeWithoutScroll,
      panels: slide.querySelectorAll('.live-panel .lp').length,
    };
  }, h);
}

test('the phone layout on every slide at 390x844: text >= 16 px, code >= 13 px, targets >= 44 px, no sideways page scroll', async () => {
  const { page, errors } = await open('/');
  assert.equal(await page.evaluate(() => document.documentElement.classList.contains('phone-layout')), true, 'the phone layout is on');
  const total = await page.evaluate(() => window.Reveal!.getTotalSlides());
  assert.ok(total >= 15);
  let panelsSeen = 0;
  // Backwards, so that every slide is reached by a jump, as when the presenter moves the hall;
  // `h` here counts every slide, those below another too (reveal's `getSlides()` order).
  for (let h = total - 1; h >= 0; h--) {
    await page.evaluate((index) => {
      const { h: column, v } = window.Reveal!.getIndices(window.Reveal!.getSlides()[index]);
      window.Reveal!.slide(column, v);
    }, h);
    await page.waitForFunction(
      (index) => Math.abs((window.Reveal!.getSlides()[index] as HTMLElement).getBoundingClientRect().top) <= 1,
      h,
      WAIT,
    );
    // A live panel loads when its slide comes near: measure it once it is there.
    await page.waitForFunction(
      (index) => [...window.Reveal!.getSlides()[index]!.querySelectorAll('.live-panel')].every((panel) => panel.querySelector('.lp') !== null),
      h,
      WAIT,
    );
    await page.waitForFunction(
      (index) => Math.abs((window.Reveal!.getSlides()[index] as HTMLElement).getBoundingClientRect().top) <= 1,
      h,
      WAIT,
    );
    const report = await measureSlide(page, h);
    const where = `slide ${h} (${report.title})`;
    assert.ok(report.current, `${where} is reveal's current slide`);
    assert.equal(report.transformed, false, `${where}: no scaling`);
    assert.deepEqual(report.smallText, [], `${where}: text under 16 px`);
    assert.deepEqual(report.smallCode, [], `${where}: code under 13 px`);
    assert.deepEqual(report.shortTargets, [], `${where}: tap targets under 44 px`);
    assert.ok(report.pageWidth <= PHONE.width, `${where}: the page is ${report.pageWidth}px wide`);
    assert.deepEqual(report.sticksOut, [], `${where}: elements past the screen's edges`);
    assert.deepEqual(report.codeWithoutScroll, [], `${where}: wide code must scroll inside its block`);
    panelsSeen += report.panels;
  }
  assert.equal(panelsSeen, 8, 'the eight live panels were measured');
  // The Lua slide's code is wider than a phone: it scrolls inside its block, and the page does not.
  const luaCode = await page.evaluate((lua) => {
    const code = window.Reveal!.getSlide(lua)!.querySelector<HTMLElement>('pre code')!;
    return { wide: code.scrollWidth > code.clientWidth, overflowX: getComputedStyle(code).overflowX };
  }, LUA_INDEX);
  assert.deepEqual(luaCode, { wide: true, overflowX: 'auto' });
  // On a page every slide can be read and used, not only reveal's current one, even after reveal updates its slides.
  await page.evaluate(() => window.Reveal!.sync());
  await page.waitForFunction(() => document.querySelectorAll('.reveal .slides section:is([inert], [hidden], [aria-hidden])').length === 0, null, WAIT);
  assert.deepEqual(errors, []);
});

test(`/#/${LUA_INDEX + 1} on a phone shows the Lua slide, and its notes are readable text`, async () => {
  const { page, errors } = await open(`/#/${LUA_INDEX + 1}`);
  await page.waitForFunction((lua) => window.Reveal!.getIndices().h === lua, LUA_INDEX, WAIT);
  // Let the panels near it render: the slide must stay where the link put it.
  await page.waitForFunction(() => document.querySelectorAll('.reveal .live-panel .lp').length >= 3, null, WAIT);
  await page.waitForTimeout(500);
  const seen = await page.evaluate((lua) => {
    const slide = window.Reveal!.getSlide(lua) as HTMLElement;
    const heading = slide.querySelector('h2')!.getBoundingClientRect();
    const notes = slide.querySelector<HTMLElement>('.reader-notes-text');
    const style = notes ? getComputedStyle(notes) : null;
    return {
      current: window.Reveal!.getIndices().h,
      title: slide.querySelector('h2')?.textContent?.trim(),
      headingTop: heading.top,
      headingBottom: heading.bottom,
      notesShown: notes !== null && notes.getBoundingClientRect().height > 0 && style!.visibility === 'visible' && style!.display !== 'none',
      notesFontSize: style ? parseFloat(style.fontSize) : 0,
      notesText: notes?.innerText ?? '',
      toggle: slide.querySelector('.reader-notes-toggle')?.getAttribute('aria-pressed'),
    };
  }, LUA_INDEX);
  assert.equal(seen.current, LUA_INDEX);
  assert.equal(seen.title, LUA);
  assert.ok(seen.headingTop >= 0 && seen.headingBottom <= PHONE.height, `the Lua slide's heading is on screen (top ${seen.headingTop})`);
  assert.ok(seen.notesShown, 'the notes are shown under the slide');
  assert.ok(seen.notesFontSize >= 16, `notes at ${seen.notesFontSize}px`);
  for (const words of ['allocate', 'double release', '[0,0,"already_in_pool"]']) assert.ok(seen.notesText.includes(words), `the notes say ${words}`);
  // Read alone (no talk live here): the notes, written for a reader, without the speaker's cues.
  assert.doesNotMatch(seen.notesText, /Say:|Click|Before you start|⏱/);
  assert.equal(seen.toggle, 'true');

  // The toggle hides them, and shows them again.
  await page.locator('.present .reader-notes-toggle').click();
  await page.waitForFunction((lua) => window.Reveal!.getSlide(lua)!.querySelector<HTMLElement>('.reader-notes-text')!.getBoundingClientRect().height === 0, LUA_INDEX, WAIT);
  await page.locator('.present .reader-notes-toggle').click();
  await page.waitForFunction((lua) => window.Reveal!.getSlide(lua)!.querySelector<HTMLElement>('.reader-notes-text')!.getBoundingClientRect().height > 0, LUA_INDEX, WAIT);
  assert.deepEqual(errors, []);
});

test('scrolling makes the slide being read the current one, and moves the hash', async () => {
  const { page, errors } = await open('/#/3');
  await page.waitForFunction(() => window.Reveal!.getIndices().h === 2, null, WAIT);
  await page.mouse.move(200, 400);
  for (let i = 0; i < 40 && (await page.evaluate(() => window.Reveal!.getIndices().h)) < 4; i++) {
    await page.mouse.wheel(0, 400);
    await page.waitForTimeout(50);
  }
  await page.waitForFunction(() => window.Reveal!.getIndices().h >= 4, null, WAIT);
  const state = await page.evaluate(() => {
    const h = window.Reveal!.getIndices().h;
    const box = (window.Reveal!.getCurrentSlide() as HTMLElement).getBoundingClientRect();
    return { h, hash: `#/${h + 1}${window.Reveal!.getIndices().v ? `/${window.Reveal!.getIndices().v + 1}` : ''}`, top: box.top, bottom: box.bottom, line: window.innerHeight * 0.3 };
  });
  assert.ok(state.top <= state.line && state.bottom > state.line, 'the current slide is the one under the reading line');
  await page.waitForFunction((hash) => location.hash === hash, state.hash, WAIT);
  assert.deepEqual(errors, []);
});

test('tablets and phones held sideways keep the normal, scaled deck; turning the phone switches layouts', async () => {
  for (const viewport of [{ width: 768, height: 1024 }, { width: 844, height: 390 }, { width: 1280, height: 800 }]) {
    const { page, errors } = await open(`/#/${LUA_INDEX + 1}`, viewport, viewport.width < 1000);
    const state = await page.evaluate(() => ({
      phone: document.documentElement.classList.contains('phone-layout'),
      transform: getComputedStyle(document.querySelector('.reveal .slides')!).transform,
      h: window.Reveal!.getIndices().h,
      scroll: document.querySelector('.reveal-scroll') !== null,
    }));
    assert.equal(state.phone, false, `${viewport.width}x${viewport.height}: no phone layout`);
    assert.equal(state.scroll, false, `${viewport.width}x${viewport.height}: not reveal's scroll view`);
    assert.notEqual(state.transform, 'none', `${viewport.width}x${viewport.height}: the stage is scaled`);
    assert.equal(state.h, LUA_INDEX, 'the deep link lands on its slide');
    assert.deepEqual(errors, []);
  }

  const { page, errors } = await open('/#/7');
  await page.setViewportSize({ width: 844, height: 390 });
  await page.waitForFunction(() => !document.documentElement.classList.contains('phone-layout'), null, WAIT);
  await page.waitForFunction(() => getComputedStyle(document.querySelector('.reveal .slides')!).transform !== 'none', null, WAIT);
  assert.equal(await page.evaluate(() => window.Reveal!.getIndices().h), 6, 'the same slide after turning the phone');
  await page.setViewportSize(PHONE);
  await page.waitForFunction(() => document.documentElement.classList.contains('phone-layout'), null, WAIT);
  await page.waitForFunction(() => Math.abs((window.Reveal!.getSlide(6) as HTMLElement).getBoundingClientRect().top) <= 1, null, WAIT);
  assert.deepEqual(errors, []);
});

/** Pixels that are clearly coloured (not grey, not the dark background) in a PNG. */
function colouredPixels(png: Buffer): number {
  const image = PNG.sync.read(png);
  let count = 0;
  for (let i = 0; i < image.data.length; i += 4) {
    const [r, g, b] = [image.data[i]!, image.data[i + 1]!, image.data[i + 2]!];
    if (Math.max(r, g, b) - Math.min(r, g, b) > 60) count++;
  }
  return count;
}

test('the talk\'s emoji are drawn on a machine with no emoji font', async () => {
  const { page, errors } = await open('/#/4', { width: 1280, height: 800 }, false);
  for (const emoji of ['😤', '🤝', '🧘', '✅', '❌', '⚠']) {
    const span = page.locator('.reveal .slides .emoji', { hasText: emoji }).first();
    const index = await span.evaluate((element) => window.Reveal!.getIndices(element.closest('section')!).h);
    await page.evaluate((h) => window.Reveal!.slide(h), index);
    await span.waitFor({ state: 'visible', ...WAIT });
    await slidesAtRest(page);
    const drawn = colouredPixels(await span.screenshot(WAIT));
    // The same character without its image: what this machine's fonts draw (nothing coloured).
    const image = await span.evaluate((element) => {
      const drawnWith = element.style.backgroundImage;
      element.style.backgroundImage = 'none';
      return drawnWith;
    });
    const bare = colouredPixels(await span.screenshot(WAIT));
    await span.evaluate((element, drawnWith) => (element.style.backgroundImage = drawnWith), image);
    assert.ok(drawn > 40, `${emoji} is drawn (${drawn} coloured pixels)`);
    assert.equal(bare, 0, `${emoji} without its image shows nothing coloured`);
    assert.equal(await span.textContent(), await span.getAttribute('aria-label'), `${emoji} stays text`);
  }
  assert.deepEqual(errors, []);
});

test('in the deck, the notes toggle shows the current slide\'s notes under a smaller stage, off by default', async () => {
  const { page, errors } = await open(`/#/${LUA_INDEX + 1}`, { width: 1280, height: 800 }, false);
  const strip = page.locator('.reader-notes-strip');
  const stageHeight = () => page.evaluate(() => document.querySelector<HTMLElement>('.reveal')!.getBoundingClientRect().height);
  assert.equal(await strip.isVisible(), false, 'off by default in the deck');
  const fullStage = await stageHeight();

  await page.locator('.reader-notes-corner').click();
  await strip.waitFor({ state: 'visible', ...WAIT });
  assert.match((await strip.innerText()) ?? '', /already_in_pool/);
  const box = await strip.boundingBox();
  assert.ok(box && box.y >= (await stageHeight()) - 1, 'the notes are under the stage');
  assert.ok((await stageHeight()) < fullStage * 0.75, 'the stage made room');
  assert.ok(await page.evaluate(() => parseFloat(getComputedStyle(document.querySelector('.reader-notes-strip .reader-notes-text')!).fontSize) >= 16));

  // They follow the deck.
  await page.evaluate(() => window.Reveal!.slide(6));
  await page.waitForFunction(() => (document.querySelector('.reader-notes-strip')?.textContent ?? '').includes('TTL'), null, WAIT);

  await page.locator('.reader-notes-corner').click();
  await strip.waitFor({ state: 'hidden', ...WAIT });
  await page.waitForFunction((full) => document.querySelector<HTMLElement>('.reveal')!.getBoundingClientRect().height === full, fullStage, WAIT);
  assert.deepEqual(errors, []);
});
