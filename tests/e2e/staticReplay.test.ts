/**
 * The built deck on a plain static host (Python's http.server: no API, no
 * socket.io): every panel replays its recording of a real run, labelled with the
 * recording's date, and its timeline grows as the replay plays. Redis' replies
 * are the recorded ones: attempt 3 and the Lua panel show `already_in_pool`.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { launchBrowser } from '../../tools/browser.ts';
import { loadDeck, newDeckContext, newDeckPage, showSlide } from '../../tools/deckPage.ts';
import { ensureDeckBuilt } from '../../tools/builtDeck.ts';
import { startStaticServer, type StaticServer } from '../support/staticServer.ts';
import type { RecordingIndex } from '../../server/recording/format.ts';

const INDEX = JSON.parse(readFileSync(fileURLToPath(new URL('../../slides/recordings/index.json', import.meta.url)), 'utf8')) as RecordingIndex;
const YEAR = String(new Date(INDEX.recordedAt).getFullYear());

const PANELS: { panel: string; title: string }[] = [
  { panel: 'innocent-pattern', title: 'Act 1: The Innocent Pattern' },
  { panel: 'journey', title: 'The Journey to Idempotency' },
  { panel: 'lua-release', title: 'The Lua Script Solution' },
  { panel: 'defense', title: 'Defense in Depth' },
  { panel: 'edge-case-test', title: 'Testing the Edge Cases' },
];
const of = (panel: string) => `[data-panel="${panel}"]`;

let server: StaticServer | null = null;
let browser: Browser | null = null;
let context: BrowserContext | null = null;
let page: Page;
const errors: Error[] = [];
const socketRequests: string[] = [];

before(async () => {
  server = await startStaticServer(await ensureDeckBuilt());
  browser = await launchBrowser();
  context = await newDeckContext(browser);
  page = await newDeckPage(context, errors);
  page.on('request', (request) => {
    if (new URL(request.url()).pathname.startsWith('/socket.io/')) socketRequests.push(request.url());
  });
  await loadDeck(page, `${server.url}/`);
});

after(async () => {
  await context?.close().catch(() => {});
  await browser?.close();
  await server?.close();
});

/** How many marks the panel's timelines (or terminal lines, or log lines) show now. */
function progress(panel: string): Promise<number> {
  return page.evaluate(
    (selector) => document.querySelectorAll(`${selector} .lp-tl-mark, ${selector} [data-role="test-output"] li, ${selector} [data-role="log"] li, ${selector} [data-role="ttl-steps"] li`).length,
    of(panel),
  );
}

test('on a static host, every panel replays its recording, labelled with its date', async () => {
  for (const { panel, title } of PANELS) {
    await showSlide(page, title);
    const label = page.locator(`${of(panel)} [data-role="replay-label"]`);
    await label.waitFor({ timeout: 15_000 });
    assert.match((await label.textContent()) ?? '', new RegExp(`^Recording of a real run, .*${YEAR}`), panel);
    assert.equal(await page.locator(`${of(panel)} [data-role="replay"]`).getAttribute('data-recorded-at'), INDEX.recordedAt);
    assert.equal(await page.locator(`${of(panel)} [data-role="badge"]`).getAttribute('data-state'), 'replay');
    // It plays to the recorded end: the run's verdict (or the session's last reply) as the server gave it.
    await page.locator(`${of(panel)} [data-role="replay"][data-state="ended"]`).waitFor({ timeout: 30_000 });
  }
  assert.ok(socketRequests.length > 0, 'the deck did look for a server (and found none)');
  assert.deepEqual(errors, []);
});

test('a replay plays at its pace: its timeline grows over time; pause holds it, step moves one event', async () => {
  // The Journey: three runs one after another, a few seconds in all.
  await showSlide(page, 'The Journey to Idempotency');
  const again = page.locator(`${of('journey')} [data-role="replay-play"]`);
  await page.locator(`${of('journey')} [data-role="replay"][data-state="ended"]`).waitFor({ timeout: 30_000 });
  const final = await progress('journey');
  await again.click(); // ↻ from the start
  await page.waitForFunction((selector) => document.querySelector(`${selector} [data-role="replay"]`)?.getAttribute('data-state') === 'playing', of('journey'), { timeout: 5000 });
  const early = await progress('journey');
  assert.ok(early < final, `starts with less than the end shows (${early} < ${final})`);
  await page.waitForFunction(({ selector, early }) => document.querySelectorAll(`${selector} .lp-tl-mark`).length > early, { selector: of('journey'), early }, { timeout: 10_000 });
  // Paused, nothing moves; a step adds what happened next.
  await again.click();
  await page.locator(`${of('journey')} [data-role="replay"][data-state="paused"]`).waitFor({ timeout: 5000 });
  const paused = await progress('journey');
  await page.waitForTimeout(600); // the replay is paused: this checks that nothing moves meanwhile
  assert.equal(await progress('journey'), paused);
  // A step is the next moment of the recording; a moment may only group into a mark already drawn.
  let stepped = paused;
  for (let i = 0; i < 8 && stepped === paused; i++) {
    await page.locator(`${of('journey')} [data-role="replay-step"]`).click();
    stepped = await progress('journey');
  }
  assert.ok(stepped > paused, `steps moved the replay on (${paused} → ${stepped})`);
  assert.equal(await page.locator(`${of('journey')} [data-role="replay"]`).getAttribute('data-state'), 'paused', 'and it stays paused');
  await page.locator(`${of('journey')} [data-role="replay-2x"]`).click();
  assert.equal(await page.locator(`${of('journey')} [data-role="replay-2x"]`).getAttribute('aria-pressed'), 'true');
  await page.locator(`${of('journey')} [data-role="replay-play"]`).click();
  await page.locator(`${of('journey')} [data-role="replay"][data-state="ended"]`).waitFor({ timeout: 30_000 });
  assert.equal(await progress('journey'), final, 'played to the same end');

  // The Lua panel's clicks come 1.5 s apart, as they were made: its log grows.
  await showSlide(page, 'The Lua Script Solution');
  await page.locator(`${of('lua-release')} [data-role="replay-play"]`).click();
  const first = await progress('lua-release');
  await page.waitForFunction(({ selector, first }) => document.querySelectorAll(`${selector} [data-role="log"] li`).length > first, { selector: of('lua-release'), first }, { timeout: 10_000 });
  assert.deepEqual(errors, []);
});

test("Redis' replies are the recorded ones: attempt 3 and the Lua panel show already_in_pool", async () => {
  await showSlide(page, 'The Journey to Idempotency');
  const three = `${of('journey')} .lp-col[data-scenario="attempt-3"]`;
  await page.locator(`${three} [data-role="callbacks"] .lp-step[data-status="already_in_pool"]`).waitFor({ timeout: 30_000 });
  await page.locator(`${three} [data-role="verdict"][data-kind="sound"]`).waitFor({ timeout: 30_000 });
  await page.locator(`${of('journey')} .lp-col[data-scenario="attempt-2"] [data-role="verdict"][data-kind="duplicate"]`).waitFor({ timeout: 30_000 });

  await showSlide(page, 'The Lua Script Solution');
  await page.locator(`${of('lua-release')} [data-role="replies"] .lp-reply[data-status="already_in_pool"]`).waitFor({ timeout: 30_000 });
  assert.match((await page.locator(`${of('lua-release')} [data-role="replies"]`).textContent()) ?? '', /\[0, 0, "already_in_pool", \d+, \d+\]/);
  // Nothing to click into: the buttons that would act on a pool are off.
  assert.equal(await page.locator(`${of('lua-release')} .lp-actions button:enabled`).count(), 0);
  assert.deepEqual(errors, []);
});
