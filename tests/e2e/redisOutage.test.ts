/**
 * Redis dies under a viewer's open deck: the panel says "Redis unavailable", and
 * once the server has its Redis back it recovers on its own (no reload), showing
 * the rebuilt pool as Redis holds it. A page opened while Redis is away cannot
 * follow the runs (they are read from Redis), and can once it is back.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import type { Browser } from 'playwright-core';
import type { PoolSnapshot } from '../../server/protocol.ts';
import { loadDeck, newDeckContext, newDeckPage, showSlide } from '../../tools/deckPage.ts';
import { startDeckSite, type DeckSite } from '../support/deckSite.ts';
import { startPrivateRedis, type PrivateRedis } from '../../server/redis/privateRedis.ts';
import { withDeadline } from '../support/deadline.ts';
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

  // The outage may be over in less time than a locator takes between two looks: the page
  // itself notes the moment the notice shows, and what it said.
  await page.evaluate((panel) => {
    const element = document.querySelector<HTMLElement>(`${panel} [data-role="redis-state"]`)!;
    const seen = window as unknown as { redisNotice?: string };
    new MutationObserver(() => {
      if (!element.hidden && seen.redisNotice === undefined) seen.redisNotice = element.textContent ?? '';
    }).observe(element, { attributes: true, childList: true, characterData: true, subtree: true });
  }, PANEL);
  const pid = Number(/process_id:(\d+)/.exec(await site.redis.info('server'))?.[1]);
  process.kill(pid, 'SIGKILL');
  await page.waitForFunction(() => (window as unknown as { redisNotice?: string }).redisNotice !== undefined, null, { timeout: 15_000 });
  assert.match(await page.evaluate(() => (window as unknown as { redisNotice?: string }).redisNotice ?? ''), /Redis unavailable/);

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

test('a run panel opened while Redis is away says it cannot follow the runs, and follows them once Redis is back (no reload)', async () => {
  const PANEL_ACT1 = '[data-panel="innocent-pattern"]';
  const own = await startPrivateRedis();
  let restarted: PrivateRedis | null = null;
  const away = await startDeckSite({ REDIS_URL: own.url });
  try {
    openAllPanels(away.site);
    const gone = new Promise((resolve) => away.site.redis.once('close', resolve));
    await own.stop();
    await withDeadline(gone, 10_000, 'the site to see its Redis gone');

    const errors: Error[] = [];
    const page = await newDeckPage(await away.newContext(), errors);
    await loadDeck(page, `${away.site.url}/`);
    await showSlide(page, 'Act 1: The Innocent Pattern');
    const error = page.locator(`${PANEL_ACT1} [data-role="error"]`);
    await page.waitForFunction((panel) => /Cannot follow the runs/.test(document.querySelector(`${panel} [data-role="error"]`)?.textContent ?? ''), PANEL_ACT1, { timeout: 15_000 });
    assert.equal(await page.locator(`${PANEL_ACT1} button[data-role="run"]`).isDisabled(), true);

    restarted = await startPrivateRedis({ port: own.port, password: own.password });
    await page.waitForFunction((panel) => document.querySelector<HTMLButtonElement>(`${panel} button[data-role="run"]`)?.disabled === false, PANEL_ACT1, { timeout: 30_000 });
    assert.equal(await error.isVisible(), false);
    assert.equal(await page.evaluate(() => performance.getEntriesByType('navigation').length), 1, 'no reload');
    assert.deepEqual(errors, []);
  } finally {
    await away.close();
    await (restarted ?? own).stop();
  }
});
