/**
 * A replay gives way to the live system: the deck is served by the real server,
 * but its socket.io requests fail at first (as if the backend were down), so the
 * panels replay their recordings; once the requests go through, the same panels
 * go live, reading the pool from Redis.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import type { PoolSnapshot } from '../../server/protocol.ts';
import { launchBrowser } from '../../tools/browser.ts';
import { loadDeck, newDeckContext, newDeckPage, showSlide } from '../../tools/deckPage.ts';
import { ensureDeckBuilt } from '../../tools/builtDeck.ts';
import { api, startSite, type Site } from '../support/site.ts';

const LUA = '[data-panel="lua-release"]';
const JOURNEY = '[data-panel="journey"]';

let site: Site | null = null;
let browser: Browser | null = null;
let context: BrowserContext | null = null;
let page: Page;
const errors: Error[] = [];
let backendDown = true;

before(async () => {
  await ensureDeckBuilt();
  site = await startSite({}, { deck: true });
  browser = await launchBrowser();
  context = await newDeckContext(browser);
  page = await newDeckPage(context, errors);
  await page.route('**/socket.io/**', (route) => (backendDown ? route.abort('connectionrefused') : route.continue()));
});

after(async () => {
  await context?.close().catch(() => {});
  await browser?.close();
  await site?.close();
});

test('no backend: the panels replay; the backend back: the same panels go live', async () => {
  assert.ok(site);
  await loadDeck(page, `${site.url}/`);
  await showSlide(page, 'The Lua Script Solution');
  await page.locator(`${LUA} [data-role="replay-label"]`).waitFor({ timeout: 15_000 });
  await page.locator(`${JOURNEY} [data-role="replay-label"]`).waitFor({ timeout: 15_000 });
  assert.equal(await page.locator(`${LUA} [data-role="badge"]`).getAttribute('data-state'), 'replay');

  backendDown = false;
  await page.locator(`${LUA} [data-role="badge"][data-state="connected"]`).waitFor({ timeout: 20_000 });
  await page.locator(`${LUA} [data-role="replay"]`).waitFor({ state: 'hidden', timeout: 5000 });
  await page.locator(`${JOURNEY} [data-role="replay"]`).waitFor({ state: 'hidden', timeout: 5000 });
  assert.equal(await page.locator(`${JOURNEY} .lp`).getAttribute('data-source'), 'live');
  // Live: the pool as Redis holds it now, not the recording's.
  const { body } = await api<PoolSnapshot>(site, 'GET', '/api/pool?pool=main');
  await page.waitForFunction(
    ({ panel, wanted }) =>
      JSON.stringify([...document.querySelectorAll(`${panel} [data-role="available"] .lp-chip`)].map((chip) => chip.getAttribute('data-executor'))) === wanted,
    { panel: LUA, wanted: JSON.stringify(body.available) },
    { timeout: 10_000 },
  );
  assert.match((await page.locator(`${LUA} .lp-subtitle`).textContent()) ?? '', /live from Redis/);
  assert.deepEqual(errors, []);
});
