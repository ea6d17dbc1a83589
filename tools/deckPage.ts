/**
 * The deck in a real browser, for the e2e tests and the benches: a page of the
 * built deck once reveal is ready, and going to a slide by its title.
 */
import assert from 'node:assert/strict';
import type { Browser, BrowserContext, Page } from 'playwright-core';

/** A fresh browser context (own cookies, own network switch), the size of a laptop screen. */
export function newDeckContext(browser: Browser): Promise<BrowserContext> {
  return browser.newContext({ viewport: { width: 1280, height: 800 } });
}

/** A new page in `context`; its uncaught exceptions go into `errors`. */
export async function newDeckPage(context: BrowserContext, errors: Error[]): Promise<Page> {
  const page = await context.newPage();
  page.on('pageerror', (error) => errors.push(error));
  return page;
}

/** Opens the deck at `url` and waits until reveal is ready. */
export async function loadDeck(page: Page, url: string): Promise<void> {
  await page.goto(url);
  await page.waitForFunction(() => window.Reveal?.isReady() === true);
}

/**
 * Goes to the slide whose heading is `title` (not by a slide number that may move), by its
 * reveal indices: a slide below another (a vertical slide) has its column's `h` and its own `v`.
 */
export async function showSlide(page: Page, title: string): Promise<void> {
  const indices = await page.evaluate((wanted) => {
    const slide = (window.Reveal?.getSlides() ?? []).find((candidate) => candidate.querySelector('h1, h2')?.textContent?.trim() === wanted);
    return slide ? window.Reveal!.getIndices(slide) : null;
  }, title);
  assert.ok(indices, `the deck has the slide "${title}"`);
  await page.evaluate(({ h, v }) => window.Reveal?.slide(h, v ?? 0), indices);
  await page.waitForFunction((wanted) => window.Reveal?.getCurrentSlide()?.querySelector('h1, h2')?.textContent?.trim() === wanted, title);
}

/**
 * Waits until no slide is moving: reveal's slide transition (a CSS transition on the
 * sections) has ended, or there was none. The browser's own list of running
 * animations says so, two frames after the move began.
 */
export async function slidesAtRest(page: Page, timeoutMs = 10_000): Promise<void> {
  await page.evaluate(() => new Promise((resolve) => requestAnimationFrame(() => requestAnimationFrame(resolve))));
  await page.waitForFunction(
    () =>
      !document.getAnimations().some((animation) => {
        const target = animation.effect instanceof KeyframeEffect ? animation.effect.target : null;
        return target instanceof Element && target.matches('.reveal .slides section');
      }),
    null,
    { timeout: timeoutMs },
  );
}
