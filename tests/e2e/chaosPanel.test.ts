/**
 * The chaos round's panel in a real Chromium against the real site: the presenter
 * sees "Open a round", a viewer does not; once open, a phone (390x844) shows the
 * big button, and a press-and-release is a tap the server counts, with the hold
 * it was held for; at the end the summary names each release's first violation
 * and links the history. Screenshots go to $CHAOS_SCREENSHOTS when set.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import type { ChaosRoundState } from '../../server/protocol.ts';
import { launchBrowser } from '../../tools/browser.ts';
import { loadDeck, newDeckContext, newDeckPage, showSlide } from '../../tools/deckPage.ts';
import { ensureDeckBuilt } from '../../tools/builtDeck.ts';
import { api, PRESENTER_SECRET, startSite, type Site } from '../support/site.ts';

const PANEL = '[data-panel="chaos-round"]';
const TITLE = 'Beyond the Talk: Chaos Round';
const WAIT = 30_000;
const SHOTS = process.env.CHAOS_SCREENSHOTS;

let site: Site | undefined;
let browser: Browser | undefined;
const contexts: BrowserContext[] = [];
let presenter: Page;
let phone: Page;
const errors: Error[] = [];

async function shoot(page: Page, name: string): Promise<void> {
  if (SHOTS) await page.screenshot({ path: `${SHOTS}/${name}.png` });
}

before(async () => {
  await ensureDeckBuilt();
  site = await startSite({}, { deck: true });
  browser = await launchBrowser();
  const laptop = await newDeckContext(browser);
  const mobile = await browser.newContext({ viewport: { width: 390, height: 844 }, isMobile: true, hasTouch: true, deviceScaleFactor: 2 });
  contexts.push(laptop, mobile);
  presenter = await newDeckPage(laptop, errors);
  await loadDeck(presenter, `${site.url}/presenter?token=${encodeURIComponent(PRESENTER_SECRET)}`);
  await showSlide(presenter, TITLE);
  phone = await newDeckPage(mobile, errors);
  await loadDeck(phone, site.url);
  await showSlide(phone, TITLE);
});

after(async () => {
  for (const context of contexts) await context.close().catch(() => {});
  await browser?.close();
  await site?.close();
});

test('the presenter opens a round; a phone taps with the big button; the summary comes at the end', async () => {
  await presenter.locator(`${PANEL} [data-role="open-round"]`).waitFor({ state: 'visible', timeout: WAIT });
  assert.equal(await phone.locator(`${PANEL} [data-role="open-round"]`).isVisible(), false, 'a viewer has no open button');
  assert.equal(await phone.locator(`${PANEL} [data-role="tap"]`).isVisible(), false, 'no button before a round');

  await presenter.locator(`${PANEL} [data-role="seconds"]`).fill('6');
  await presenter.locator(`${PANEL} [data-role="open-round"]`).click();
  const tap = phone.locator(`${PANEL} [data-role="tap"]`);
  await tap.waitFor({ state: 'visible', timeout: WAIT });
  const box = (await tap.boundingBox())!;
  assert.ok(box.height >= 44 && box.width >= 200, `the button is ${box.width}x${box.height}`);

  // Press, hold, release: the tap is sent with its hold.
  await tap.scrollIntoViewIfNeeded();
  for (const holdMs of [80, 400, 900]) {
    await tap.dispatchEvent('pointerdown');
    await phone.waitForTimeout(holdMs);
    await tap.dispatchEvent('pointerup');
    await phone.locator(`${PANEL} [data-role="tap-hint"]`).filter({ hasText: /your tap/ }).waitFor({ timeout: WAIT });
  }
  await presenter.waitForFunction((panel) => Number(document.querySelector(`${panel} [data-role="taps"] b`)?.textContent) >= 3, PANEL, { timeout: WAIT });
  await shoot(phone, 'chaos-phone-open');
  await shoot(presenter, 'chaos-laptop-open');

  await presenter.locator(`${PANEL} [data-role="history"]`).waitFor({ timeout: WAIT });
  await phone.locator(`${PANEL} [data-role="summary"] [data-variant="fenced"]`).waitFor({ timeout: WAIT });
  const href = (await presenter.locator(`${PANEL} [data-role="history"]`).getAttribute('href'))!;
  const id = /rounds\/(r[a-z0-9]+)\/history/.exec(href)![1]!;
  const state = (await api<ChaosRoundState>(site!, 'GET', `/api/chaos/rounds/${id}`)).body;
  assert.equal(state.taps, 3);
  assert.deepEqual(state.deliveries, { once: 1, double: 1, late: 1 });
  assert.equal(await presenter.locator(`${PANEL} [data-role="taps"] b`).textContent(), '3');
  for (const variant of ['naive', 'lua', 'fenced'] as const) {
    const shown = await presenter.locator(`${PANEL} [data-role="scores"] [data-variant="${variant}"]`).getAttribute('data-violations');
    assert.equal(Number(shown), state.variants[variant].violations, variant);
  }
  assert.equal(await phone.locator(`${PANEL} [data-role="tap"]`).isVisible(), false, 'the button goes with the round');
  await phone.locator(`${PANEL} [data-role="summary"]`).scrollIntoViewIfNeeded();
  await shoot(phone, 'chaos-phone-done');
  await shoot(presenter, 'chaos-laptop-done');
  assert.deepEqual(errors, []);
});
