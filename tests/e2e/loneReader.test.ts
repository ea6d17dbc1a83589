/**
 * A reader alone on the live site, in a real Chromium against the real server: with
 * no presenter, no panel was opened by anyone, and still the reader fires them (the
 * server lets them: no talk is live), and the page says why. The moment a presenter
 * window takes control, the presenter's gating applies again: the panel the
 * presenter has not opened closes to the reader, and the server refuses a tap that
 * gets through anyway. The presenter's console says which of the two holds.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import type { Page } from 'playwright-core';
import { loadDeck, newDeckPage, showSlide } from '../../tools/deckPage.ts';
import { startDeckSite, type DeckSite } from '../support/deckSite.ts';
import { PRESENTER_SECRET, api } from '../support/site.ts';
import type { PoolSnapshot } from '../../server/protocol.ts';

const WAIT = { timeout: 15_000 };
const LUA_PANEL = '[data-panel="lua-release"]';
const SHOTS = process.env.SCREENSHOT_DIR;

let deck: DeckSite | undefined;
const errors: Error[] = [];

before(async () => {
  deck = await startDeckSite();
});

after(() => deck?.close());

async function busyInRedis(): Promise<number> {
  const { body } = await api<PoolSnapshot>(deck!.site, 'GET', '/api/pool?pool=main');
  return Object.keys(body.busy).length;
}

/** Taps Allocate and waits for this page's own entry in the panel's log. */
async function allocate(page: Page, count: number): Promise<void> {
  await page.locator(`${LUA_PANEL} button`, { hasText: 'Allocate' }).click();
  await page.waitForFunction(
    ({ panel, count: wanted }) => (document.querySelector(`${panel} [data-role="log"]`)?.textContent ?? '').split('you: allocate').length - 1 >= wanted,
    { panel: LUA_PANEL, count },
    WAIT,
  );
}

test('a lone reader fires a panel nobody opened; once a presenter takes control and has not opened it, it closes to the reader', async () => {
  assert.ok(deck);
  const { site } = deck;
  assert.equal(site.hall.deck.state.live, false, 'no presenter yet: no talk live');
  assert.deepEqual(site.hall.deck.state.open, []);

  const reader = await newDeckPage(await deck.newContext(), errors);
  await loadDeck(reader, `${site.url}/`);
  await showSlide(reader, 'The Lua Script Solution');
  const panel = reader.locator(LUA_PANEL);
  await panel.locator('[data-role="gate"][data-open="true"][data-live="false"]').waitFor(WAIT);
  assert.equal(await panel.locator('[data-role="gate-status"]').innerText(), 'No talk is live: the demos are yours');
  await reader.locator('[data-role="hall-bar"][data-state="solo"]', { hasText: 'No talk is live' }).waitFor(WAIT);
  assert.equal(await panel.locator('.lp-body').evaluate((body) => (body as HTMLElement).inert), false, 'the panel can be tapped');

  await allocate(reader, 1);
  assert.equal(await busyInRedis(), 1, 'the reader\'s tap reached Redis');
  if (SHOTS) {
    await reader.screenshot({ path: `${SHOTS}/lone-reader-1280.png` });
    await reader.setViewportSize({ width: 390, height: 844 });
    await reader.locator(LUA_PANEL).scrollIntoViewIfNeeded();
    await reader.screenshot({ path: `${SHOTS}/lone-reader-390.png` });
    await reader.setViewportSize({ width: 1280, height: 800 });
  }

  // A presenter window takes control (and does not open the Lua panel).
  const presenter = await newDeckPage(await deck.newContext(), errors);
  await loadDeck(presenter, `${site.url}/presenter?token=${encodeURIComponent(PRESENTER_SECRET)}`);
  await presenter.locator('[data-role="hall-bar"][data-state="driving"]').waitFor(WAIT);
  await panel.locator('[data-role="gate"][data-open="false"][data-live="true"]').waitFor(WAIT);
  assert.equal(await panel.locator('.lp-body').evaluate((body) => (body as HTMLElement).inert), true, 'closed: not tappable');
  assert.equal(site.hall.deck.state.live, true);
  // A tap that gets through anyway (a script, an old page) is refused by the server, and changes nothing.
  await panel.locator('button', { hasText: 'Allocate' }).dispatchEvent('click');
  await panel.locator('[data-role="error"]', { hasText: 'closed' }).waitFor(WAIT);
  assert.equal(await busyInRedis(), 1, 'the refused tap changed nothing');
  // The reader had moved on their own: not pulled along, offered the way back instead.
  await reader.locator('[data-role="hall-bar"][data-state="away"]').waitFor(WAIT);

  // The presenter's console says a talk is live, and what happens without one.
  await presenter.locator('[data-role="open-console"]').click();
  await presenter.locator('[data-role="talk"][data-live="true"]', { hasText: 'Live' }).waitFor(WAIT);
  if (SHOTS) await presenter.screenshot({ path: `${SHOTS}/console-live-1280.png` });
  await presenter.locator('[data-role="close-console"]').click();

  // Opened by the presenter, the reader fires it again.
  await showSlide(presenter, 'The Lua Script Solution');
  await presenter.locator(`${LUA_PANEL} [data-role="gate-toggle"]`).click();
  await panel.locator('[data-role="gate"][data-open="true"]').waitFor(WAIT);
  await allocate(reader, 2);
  assert.equal(await busyInRedis(), 2);
  assert.deepEqual(errors, []);
});
