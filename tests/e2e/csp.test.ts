/**
 * The deck under its Content-Security-Policy in a real Chromium: every slide shown,
 * the live panels working, and not one violation reported by the browser.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import type { Browser } from 'playwright-core';
import { loadDeck, newDeckContext, newDeckPage, showSlide } from '../../tools/deckPage.ts';
import { startDeckSite, type DeckSite } from '../support/deckSite.ts';
import { openAllPanels, type Site } from '../support/site.ts';

let deck: DeckSite | undefined;
let site: Site | undefined;
let browser: Browser | undefined;

before(async () => {
  deck = await startDeckSite();
  ({ site, browser } = deck);
  openAllPanels(site);
});

after(async () => {
  await deck?.close();
});

test('every slide, the Lua panel and the speaker view work under the CSP, with no violation', async () => {
  assert.ok(site && browser);
  const served = await fetch(`${site.url}/`);
  assert.match(served.headers.get('content-security-policy') ?? '', /script-src 'self' 'sha256-[\w+/=]+'(;|$)/, 'the deck is served with the policy: its own scripts, one inline one by hash');
  const context = await newDeckContext(browser);
  // Report every violation the page sees, from its very first script on.
  await context.addInitScript(() => {
    const seen: string[] = [];
    Object.assign(window, { cspViolations: seen });
    document.addEventListener('securitypolicyviolation', (event) => seen.push(`${event.violatedDirective} ${event.blockedURI}`));
  });
  const errors: Error[] = [];
  const page = await newDeckPage(context, errors);
  const consoleViolations: string[] = [];
  page.on('console', (message) => {
    if (/Content Security Policy/i.test(message.text())) consoleViolations.push(message.text());
  });
  await loadDeck(page, `${site.url}/`);
  const slides = await page.evaluate(() => window.Reveal?.getTotalSlides() ?? 0);
  assert.ok(slides >= 15);
  // Every slide, those below another too: by each slide's own indices.
  for (let index = 0; index < slides; index++) {
    await page.evaluate((i) => {
      const { h, v } = window.Reveal!.getIndices(window.Reveal!.getSlides()[i]);
      window.Reveal!.slide(h, v);
    }, index);
    await page.waitForFunction((i) => window.Reveal?.getCurrentSlide() === window.Reveal?.getSlides()[i], index);
  }
  await showSlide(page, 'The Lua Script Solution');
  const panel = '[data-panel="lua-release"]';
  await page.locator(`${panel} [data-role="badge"][data-state="connected"]`).waitFor();
  await page.locator(`${panel} .lp-button`, { hasText: 'Allocate' }).click();
  await page.locator(`${panel} [data-role="replies"] .lp-reply[data-kind="allocation"]`).waitFor();

  // The speaker view: a popup the notes plugin writes its own page (and inline script) into.
  context.on('console', (message) => {
    if (/Content Security Policy/i.test(message.text())) consoleViolations.push(message.text());
  });
  const [speaker] = await Promise.all([context.waitForEvent('page', { timeout: 10_000 }), page.keyboard.press('s')]);
  await speaker.locator('#current-slide iframe').waitFor({ timeout: 15_000 });
  await speaker.close();

  const violations = await page.evaluate(() => (window as unknown as { cspViolations: string[] }).cspViolations);
  assert.deepEqual(violations, [], 'no CSP violation');
  assert.deepEqual(consoleViolations, []);
  assert.deepEqual(errors, []);
  await context.close();
});
