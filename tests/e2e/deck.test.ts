/**
 * The deck in a real Chromium: the built deck (dist/, tools/builtDeck.ts) served by
 * `vite preview` on a free port, so this test needs neither the site server nor Redis.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import { preview, type PreviewServer } from 'vite';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { launchBrowser } from '../../tools/browser.ts';
import { ensureDeckBuilt } from '../../tools/builtDeck.ts';

const CONFIG_FILE = fileURLToPath(new URL('../../vite.config.ts', import.meta.url));

const TITLE = 'The Idempotency Challenge: When Frameworks Betray You';

/** The first h1/h2 of each slide, in order (a slide below another comes right after it). */
const SLIDE_TITLES = [
  'The Idempotency Challenge',
  'Act 1: The Innocent Pattern',
  'The Shocking Discovery',
  'Does Celery really do that?',
  'The Five Stages of Framework Grief',
  'The Journey to Idempotency',
  'The Lua Script Solution',
  'Defense in Depth',
  'Beyond the Talk: The Late Duplicate',
  'The Broader Lessons',
  'When to Pivot vs Persist',
  'Testing the Edge Cases',
  'Beyond the Talk: Chaos Round',
  'Technical Debt as Teacher',
  'The Meta-Pattern',
  'Interview Talking Points',
  'The Code Philosophy',
  'Final Wisdom',
  'Sources: Celery',
  'Sources: BullMQ and Redis',
];

/** reveal's horizontal indices (`/#/5` is the Lua slide); the Celery check is below "The Shocking Discovery", at 2/1. */
const ACT_1 = 1;
const SHOCKING = 2;
const LUA = 5;
const DEFENSE = 6;

/** Which panel goes on which slide. */
const PANELS: Record<string, string> = {
  'innocent-pattern': 'Act 1: The Innocent Pattern',
  journey: 'The Journey to Idempotency',
  'lua-release': 'The Lua Script Solution',
  defense: 'Defense in Depth',
  'edge-case-test': 'Testing the Edge Cases',
  'late-duplicate': 'Beyond the Talk: The Late Duplicate',
  'chaos-round': 'Beyond the Talk: Chaos Round',
  'celery-claims': 'Does Celery really do that?',
};

/** The opening slide's join block (QR code and URL) is a panel too, with no demo to describe in the notes. */
const JOIN_PANEL: Record<string, string> = { join: 'The Idempotency Challenge' };

let server: PreviewServer | undefined;
let browser: Browser | undefined;
let baseUrl = '';
const contexts: BrowserContext[] = [];

before(async () => {
  const outDir = await ensureDeckBuilt();
  server = await preview({
    configFile: CONFIG_FILE,
    logLevel: 'warn',
    build: { outDir },
    preview: { host: '127.0.0.1', port: 0, open: false },
  });
  const address = server.httpServer.address() as AddressInfo;
  baseUrl = `http://127.0.0.1:${address.port}/`;
  browser = await launchBrowser();
});

after(async () => {
  for (const context of contexts) await context.close().catch(() => {});
  await browser?.close();
  await server?.close();
});

interface Deck {
  page: Page;
  /** Uncaught exceptions in the page. */
  errors: Error[];
}

async function openDeck(path: string): Promise<Deck> {
  assert.ok(browser, 'browser launched');
  const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
  contexts.push(context);
  // The night theme @imports its fonts from the web: this machine is offline, so answer at once.
  await context.route(/^https?:\/\/fonts\.(googleapis|gstatic)\.com\//, (route) => route.abort());
  const page = await context.newPage();
  const errors: Error[] = [];
  page.on('pageerror', (error) => errors.push(error));
  await page.goto(new URL(path, baseUrl).href);
  await page.waitForFunction(() => window.Reveal?.isReady() === true);
  return { page, errors };
}

/**
 * Presses `key` until the page opens a popup: up to three presses, 10 s each. On a
 * loaded machine a key press that lands before the page has focus is lost; a key
 * that opens nothing still fails the test.
 */
async function pressForPopup(page: Page, key: string): Promise<Page> {
  for (let attempt = 1; ; attempt++) {
    try {
      const [popup] = await Promise.all([page.waitForEvent('popup', { timeout: 10_000 }), page.keyboard.press(key)]);
      return popup;
    } catch (error) {
      if (attempt === 3) throw error;
    }
  }
}

function currentTitle(page: Page): Promise<string> {
  return page.evaluate(() => window.Reveal?.getCurrentSlide()?.querySelector('h1, h2')?.textContent?.trim() ?? '');
}

function stateOf(page: Page): Promise<string> {
  return page.evaluate(() => JSON.stringify(window.Reveal?.getState()));
}

/** Presses a key and waits until the deck's state (slide or fragment) has changed. */
async function pressAndWait(page: Page, key: string): Promise<void> {
  const before = await stateOf(page);
  await page.keyboard.press(key);
  await page.waitForFunction((previous) => JSON.stringify(window.Reveal?.getState()) !== previous, before);
}

/** The numbers of the lines lit in the Lua slide's code block that is showing now. */
function litLuaLines(page: Page): Promise<string> {
  return page.evaluate(() => {
    const slide = window.Reveal?.getCurrentSlide();
    const code = slide?.querySelector('pre code.current-fragment') ?? slide?.querySelector('pre code:not(.fragment)');
    return [...(code?.querySelectorAll('tr.highlight-line .hljs-ln-n') ?? [])]
      .map((cell) => cell.getAttribute('data-line-number'))
      .join(',');
  });
}

test('the deck loads with the talk title, its 15 slides, the extras beyond the talk and the 2 sources slides', async () => {
  const { page, errors } = await openDeck('./');
  assert.equal(await page.title(), TITLE);
  const titles = await page.evaluate(() =>
    (window.Reveal?.getSlides() ?? []).map((slide) => slide.querySelector('h1, h2')?.textContent?.trim() ?? ''),
  );
  assert.deepEqual(titles, SLIDE_TITLES);
  assert.equal(await page.locator('.reveal').getAttribute('role'), 'application');
  assert.deepEqual(errors, []);
});

test('arrow keys and Space walk through every slide, the fragment and the Lua line steps', async () => {
  const { page, errors } = await openDeck('./#/0');
  const warning = page.locator('.reveal .slides section.present .fragment .warning');
  const seen: string[] = [];
  const luaSteps: string[] = [];
  let presses = 0;
  let warningHiddenBeforeClick = false;
  let warningShownOnClick = false;

  for (;;) {
    const position = await page.evaluate(() => ({
      h: window.Reveal?.getIndices().h ?? -1,
      f: window.Reveal?.getIndices().f,
      end: window.Reveal?.isLastSlide() === true && window.Reveal?.availableFragments().next === false,
    }));
    const title = await currentTitle(page);
    if (seen.at(-1) !== title) seen.push(title);

    if (position.h === ACT_1 && (position.f === undefined || position.f < 0)) {
      assert.equal(await warning.isVisible(), false, 'the warning waits for a click');
      warningHiddenBeforeClick = true;
    }
    if (position.h === ACT_1 && position.f === 0) {
      await warning.waitFor({ state: 'visible' });
      assert.equal(await warning.textContent(), '⚠️ Both callbacks can run in rare cases');
      warningShownOnClick = true;
    }
    if (position.h === LUA) luaSteps.push(await litLuaLines(page));

    if (position.end) break;
    assert.ok(presses < 40, `still not at the end after ${presses} presses`);
    // → goes to the next column and would pass a slide below this one: ↓ visits it first.
    const below = await page.evaluate(() => window.Reveal?.availableRoutes().down === true);
    await pressAndWait(page, below ? 'ArrowDown' : presses % 2 === 0 ? 'ArrowRight' : 'Space');
    presses++;
  }

  assert.deepEqual(seen, SLIDE_TITLES);
  assert.ok(warningHiddenBeforeClick, 'saw slide 2 before its fragment');
  assert.ok(warningShownOnClick, 'the fragment click showed the warning');
  // The Lua script is walked through in three highlighted parts.
  assert.deepEqual(luaSteps, ['1,2,3', '5,6,7,8,9,10', '12,13,14,15,16']);
  // 19 slide changes, 1 fragment on slide 2, 2 more line steps on the Lua slide.
  assert.equal(presses, 22);
  assert.deepEqual(errors, []);
});

test('every slide has speaker notes a presenter can use', async () => {
  const { page, errors } = await openDeck('./');
  const notes = await page.evaluate(() =>
    (window.Reveal?.getSlides() ?? []).map((slide) => ({
      api: window.Reveal?.getSlideNotes(slide) ?? '',
      text: slide.querySelector('aside.notes')?.textContent ?? '',
    })),
  );
  assert.equal(notes.length, SLIDE_TITLES.length);
  notes.forEach((note, index) => {
    assert.ok(note.api.trim().length > 0, `Reveal.getSlideNotes() for slide ${index + 1}`);
    assert.ok(note.text.trim().length > 100, `notes of slide ${index + 1} (${SLIDE_TITLES[index]}) say what to say`);
    assert.match(note.text, /Say:/, `notes of slide ${index + 1} say what to say`);
    assert.match(note.text, /Click|→/, `notes of slide ${index + 1} say when to click`);
  });
  for (const title of Object.values(PANELS)) {
    const index = SLIDE_TITLES.indexOf(title);
    assert.match(notes[index]?.text ?? '', /Panel \(right/, `notes of "${title}" say what the panel shows`);
    assert.match(notes[index]?.text ?? '', /No panel/, `notes of "${title}" say what to do without the panel`);
  }
  const lua = notes[SLIDE_TITLES.indexOf('The Lua Script Solution')]?.text ?? '';
  for (const expected of ['allocate', 'double release', 'release once', '[1,1,"released"]', '[0,0,"already_in_pool"]', 'TTL']) {
    assert.ok(lua.includes(expected), `the Lua slide's notes mention ${expected}`);
  }
  assert.deepEqual(errors, []);
});

test('live panels are placed by markup: one placeholder per panel slide', async () => {
  const { page, errors } = await openDeck('./');
  const placeholders = await page.evaluate(() =>
    [...document.querySelectorAll<HTMLElement>('.reveal .slides [data-panel]')].map((element) => ({
      panel: element.dataset.panel ?? '',
      pool: element.dataset.pool ?? null,
      container: element.classList.contains('live-panel'),
      slide: element.closest('section')?.querySelector('h1, h2')?.textContent?.trim() ?? '',
    })),
  );
  assert.deepEqual(
    placeholders.map(({ panel, slide }) => [panel, slide]).sort(),
    Object.entries({ ...PANELS, ...JOIN_PANEL }).sort(),
  );
  for (const placeholder of placeholders) {
    // The join block sits under the title, not in a panel's box.
    if (placeholder.panel !== 'join') assert.ok(placeholder.container, `${placeholder.panel} has class live-panel`);
  }
  assert.equal(placeholders.find((p) => p.panel === 'lua-release')?.pool, 'main');
  assert.deepEqual(errors, []);
});

test('every slide fits the 960x700 canvas, with and without a rendered panel', async () => {
  const { page, errors } = await openDeck('./');
  for (const withPanels of [false, true]) {
    const overflows = await page.evaluate(async (fill) => {
      const deck = window.Reveal;
      if (!deck) return ['no deck'];
      const { width, height } = deck.getConfig() as { width: number; height: number };
      const filler: HTMLElement[] = [];
      if (fill) {
        for (const panel of document.querySelectorAll<HTMLElement>('.reveal .live-panel')) {
          if (panel.childElementCount > 0) continue;
          const child = document.createElement('div');
          child.textContent = 'panel';
          panel.append(child);
          filler.push(child);
        }
      }
      const problems: string[] = [];
      const slides = deck.getSlides();
      for (let index = 0; index < slides.length; index++) {
        const { h, v } = deck.getIndices(slides[index]);
        deck.slide(h, v);
        await new Promise(requestAnimationFrame);
        const slide = slides[index]!;
        const name = slide.querySelector('h1, h2')?.textContent?.trim();
        if (slide.scrollHeight > height) problems.push(`${name}: ${slide.scrollHeight}px tall`);
        if (slide.scrollWidth > width) problems.push(`${name}: ${slide.scrollWidth}px wide`);
        for (const panel of slide.querySelectorAll<HTMLElement>('.live-panel')) {
          const box = panel.getBoundingClientRect();
          if (fill && box.height === 0) problems.push(`${name}: panel has no room`);
        }
        for (const code of slide.querySelectorAll<HTMLElement>('pre code')) {
          if (code.scrollWidth > code.clientWidth + 1) problems.push(`${name}: code scrolls sideways`);
          if (code.scrollHeight > code.clientHeight + 1) problems.push(`${name}: code scrolls down`);
        }
      }
      for (const child of filler) child.remove();
      deck.slide(0);
      return problems;
    }, withPanels);
    assert.deepEqual(overflows, [], withPanels ? 'with panels rendered' : 'with empty placeholders');
  }
  assert.deepEqual(errors, []);
});

test('hash URLs open a slide directly and follow navigation', async () => {
  const { page, errors } = await openDeck('./#/6');
  assert.equal(await page.evaluate(() => window.Reveal?.getIndices().h), DEFENSE);
  assert.equal(await currentTitle(page), 'Defense in Depth');

  await pressAndWait(page, 'ArrowRight');
  await page.waitForFunction(() => location.hash === '#/7');
  assert.equal(await currentTitle(page), 'Beyond the Talk: The Late Duplicate');

  await page.goto(new URL('./#/5', baseUrl).href);
  await page.waitForFunction(() => window.Reveal?.getIndices().h === 5);
  assert.equal(await currentTitle(page), 'The Lua Script Solution');
  assert.deepEqual(errors, []);
});

test('"Does Celery really do that?" is below "The Shocking Discovery": the down arrow shows it, → skips it, ↓ and its link reach it', async () => {
  const { page, errors } = await openDeck(`./#/${SHOCKING}`);
  assert.equal(await currentTitle(page), 'The Shocking Discovery');
  // The controls' down arrow is there and visible on the night theme: the reader's hint that a slide is below.
  const down = page.locator('.reveal .controls .navigate-down');
  await down.waitFor({ state: 'visible' });
  assert.equal(await down.evaluate((arrow) => arrow.classList.contains('enabled')), true);
  const look = await down.evaluate((arrow) => {
    const style = getComputedStyle(arrow);
    const box = arrow.getBoundingClientRect();
    return { opacity: Number(style.opacity), color: getComputedStyle(arrow.querySelector('.controls-arrow') ?? arrow).color, width: box.width, height: box.height };
  });
  assert.ok(look.opacity >= 0.9, `the down arrow is opaque (${look.opacity})`);
  assert.ok(look.width >= 20 && look.height >= 20, `the down arrow is big enough to see (${look.width}x${look.height})`);
  const [r = 0, g = 0, b = 0] = (look.color.match(/\d+/g) ?? []).map(Number);
  assert.ok(Math.max(r, g, b) > 150, `the down arrow stands out from the dark background (${look.color})`);

  await pressAndWait(page, 'ArrowRight');
  assert.equal(await currentTitle(page), 'The Five Stages of Framework Grief', '→ goes on with the talk');
  await pressAndWait(page, 'ArrowLeft');
  await pressAndWait(page, 'ArrowDown');
  assert.equal(await currentTitle(page), 'Does Celery really do that?');
  await page.waitForFunction(() => location.hash === '#/does-celery');
  assert.deepEqual(await page.evaluate(() => ({ h: window.Reveal?.getIndices().h, v: window.Reveal?.getIndices().v })), { h: SHOCKING, v: 1 });
  assert.equal((await page.locator('.reveal .slide-number').innerText()).replace(/\s/g, ''), '4/20');
  await pressAndWait(page, 'ArrowUp');
  await page.locator('.reveal section.present .beyond-link a').click();
  await page.waitForFunction(() => window.Reveal?.getIndices().v === 1);
  assert.equal(await currentTitle(page), 'Does Celery really do that?');
  assert.deepEqual(errors, []);
});

test('O toggles the overview', async () => {
  const { page, errors } = await openDeck('./#/3');
  await page.keyboard.press('o');
  await page.waitForFunction(() => window.Reveal?.isOverview() === true);
  await page.keyboard.press('o');
  await page.waitForFunction(() => window.Reveal?.isOverview() === false);
  assert.equal(await currentTitle(page), 'The Five Stages of Framework Grief');
  assert.deepEqual(errors, []);
});

test('S opens the speaker view with notes, pacing timer and the deck in receiver frames', async () => {
  const { page, errors } = await openDeck(`./#/${LUA}`);
  const speaker = await pressForPopup(page, 's');

  const notes = speaker.locator('.speaker-controls-notes:not(.hidden) .value');
  await notes.waitFor({ state: 'visible' });
  await speaker.waitForFunction(() => (document.querySelector('.speaker-controls-notes .value')?.textContent ?? '').includes('already_in_pool'));

  // The talk's duration (5 minutes) turns on the pacing timer.
  await speaker.waitForFunction(() => {
    const pacing = document.querySelector<HTMLElement>('.speaker-controls-time .pacing');
    return pacing !== null && pacing.style.display !== 'none';
  });

  // The current and upcoming slide previews are the deck itself, loaded with `receiver`.
  const previews = await speaker.locator('#current-slide iframe, #upcoming-slide iframe').evaluateAll((frames) =>
    frames.map((frame) => (frame as HTMLIFrameElement).src),
  );
  assert.equal(previews.length, 2);
  for (const src of previews) assert.match(src, /[?&]receiver\b/);

  const current = speaker.frames().find((frame) => frame.url().includes('receiver') && !frame.url().includes('controls=false'));
  assert.ok(current, 'current-slide frame');
  await current.waitForFunction(() => window.Reveal?.isReady() === true && window.Reveal.isSpeakerNotes());
  await current.waitForFunction((lua) => window.Reveal?.getIndices().h === lua, LUA);
  assert.equal(
    await current.evaluate(() => window.Reveal?.getCurrentSlide()?.querySelector('h2')?.textContent?.trim()),
    'The Lua Script Solution',
  );

  await speaker.close();
  assert.deepEqual(errors, []);
});

test('?print-pdf lays out every slide as a page, fragments shown', async () => {
  const { page, errors } = await openDeck('./?print-pdf');
  await page.waitForFunction((count) => document.querySelectorAll('.pdf-page').length === count, SLIDE_TITLES.length);
  assert.equal(await page.evaluate(() => document.documentElement.classList.contains('print-pdf')), true);
  const titles = await page.evaluate(() =>
    [...document.querySelectorAll('.pdf-page')].map((pdfPage) => pdfPage.querySelector('h1, h2')?.textContent?.trim() ?? ''),
  );
  assert.deepEqual(titles, SLIDE_TITLES);
  assert.equal(await page.locator('.pdf-page .warning').isVisible(), true);
  assert.deepEqual(errors, []);
});
