/**
 * Redis dies under a viewer's open deck: the panel says "Redis unavailable", and
 * once the server has its Redis back it recovers on its own (no reload), showing
 * the rebuilt pool as Redis holds it.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import type { Browser } from 'playwright-core';
import type { PoolSnapshot } from '../../server/protocol.ts';
import { loadDeck, newDeckContext, newDeckPage, showSlide } from '../support/deckPage.ts';
import { startDeckSite, type DeckSite } from '../support/deckSite.ts';
import { api, openAllPanels, type Site } from '../support/site.ts';

const PANEL = '[data-panel="lua-release"]';
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

test('the panel says Redis is unavailable, then recovers on its own with the rebuilt pool', async () => {
  assert.ok(site && browser);
  const errors: Error[] = [];
  const page = await newDeckPage(await newDeckContext(browser), errors);
  await loadDeck(page, `${site.url}/`);
  await showSlide(page, 'The Lua Script Solution');
  await page.locator(`${PANEL} [data-role="badge"][data-state="connected"]`).waitFor();
  const notice = page.locator(`${PANEL} [data-role="redis-state"]`);
  assert.equal(await notice.isVisible(), false);
  await page.locator(`${PANEL} .lp-button`, { hasText: 'Allocate' }).click();
  await page.waitForFunction((panel) => document.querySelectorAll(`${panel} [data-role="available"] .lp-chip`).length === 3, PANEL);

  const pid = Number(/process_id:(\d+)/.exec(await site.redis.info('server'))?.[1]);
  process.kill(pid, 'SIGKILL');
  await notice.waitFor({ state: 'visible', timeout: 15_000 });
  assert.match((await notice.textContent()) ?? '', /Redis unavailable/);

  await notice.waitFor({ state: 'hidden', timeout: 30_000 });
  const { status, body } = await api<PoolSnapshot>(site, 'GET', '/api/pool');
  assert.equal(status, 200);
  assert.equal(body.available.length, 4, 'the pool was rebuilt');
  await page.waitForFunction(
    ({ panel, list }) =>
      JSON.stringify([...document.querySelectorAll(`${panel} [data-role="available"] .lp-chip`)].map((chip) => chip.getAttribute('data-executor'))) ===
      JSON.stringify(list),
    { panel: PANEL, list: body.available },
  );
  assert.equal(await page.evaluate(() => performance.getEntriesByType('navigation').length), 1, 'no reload');
  assert.deepEqual(errors, []);
});
