/**
 * Print: the built deck on a static host, printed by `npm run pdf`'s own code
 * (build/pdf.ts) in the tests' Chromium: one PDF page per slide, and the panel
 * slides carry each panel's last real state as text (executor names, Redis'
 * replies, verdicts), never the "open the site" placeholder.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { Browser } from 'playwright-core';
import { pdfPageCount, pdfPageTexts, printDeck } from '../../build/pdf.ts';
import { launchBrowser } from '../../tools/browser.ts';
import { ensureDeckBuilt, STATIC_DECK_PUBLIC_URL } from '../../tools/builtDeck.ts';
import { startSite } from '../support/site.ts';
import { startStaticServer, type StaticServer } from '../support/staticServer.ts';

const TALK = fileURLToPath(new URL('../../slides/idempotency-challenge.md', import.meta.url));

let server: StaticServer | null = null;
let browser: Browser | null = null;

before(async () => {
  server = await startStaticServer(await ensureDeckBuilt());
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
  await server?.close();
});

test('the PDF has one page per slide', async () => {
  assert.ok(browser && server);
  const { pdf, slides, panels } = await printDeck(browser, `${server.url}/`);
  assert.ok(slides >= 15, `the talk's slides are laid out (${slides})`);
  // Every live panel the slides place (the opening slide's join block is not one).
  assert.equal(panels, (readFileSync(TALK, 'utf8').match(/class="live-panel"/g) ?? []).length);
  assert.ok(panels >= 5);
  assert.equal(pdfPageCount(pdf), slides);
  assert.equal(pdf.subarray(0, 5).toString(), '%PDF-');

  // The file itself, read as a PDF reader reads it: the panel pages carry Redis' replies as text.
  const pages = pdfPageTexts(pdf);
  assert.equal(pages.length, slides, 'one text page per slide');
  const page = (title: string) => {
    const found = pages.find((text) => text.startsWith(title));
    assert.ok(found, `a page for "${title}" (pages start: ${pages.map((text) => text.slice(0, 30)).join(' | ')})`);
    return found;
  };
  const lua = page('The Lua Script Solution');
  assert.match(lua, /executor-\d/);
  assert.match(lua, /\[1, 1, "released", \d+, -1\]/);
  // The reply may wrap in the panel's column, and the page's text then reads the code beside it between its halves.
  assert.match(lua, /\[0, 0, "already_in_pool", \d+,[^[\]]{0,60}?\b\d+\]/);
  assert.match(page('The Journey to Idempotency'), /already_in_pool/);
  assert.match(page('Act 1: The Innocent Pattern'), /link_error .*already_in_pool/);
  assert.match(page('Testing the Edge Cases'), /PASSED|passed/);
  for (const text of pages) assert.doesNotMatch(text, /open the site to run it|reading Redis|not run yet/);
});

test("printed, each panel shows its recording's last frame as text, with nothing to press", async () => {
  assert.ok(browser && server);
  const page = await browser.newPage();
  const errors: Error[] = [];
  page.on('pageerror', (error) => errors.push(error));
  try {
    await page.goto(`${server.url}/?print-pdf`);
    await page.waitForFunction(
      () => [...document.querySelectorAll('.live-panel[data-panel]')].every((panel) => panel.querySelector('[data-role="replay"][data-state="ended"]:not([hidden])')),
      undefined,
      { timeout: 60_000 },
    );
    const text = async (panel: string) => (await page.locator(`.pdf-page [data-panel="${panel}"]`).innerText()).replace(/\s+/g, ' ');
    const expectations: Record<string, RegExp[]> = {
      'innocent-pattern': [/Recording of a real run/, /link .*released/, /link_error .*already_in_pool/, /Sound/],
      journey: [/Attempt 1/, /Leak/, /Duplicate/, /already_in_pool/, /Sound/],
      'lua-release': [/executor-1/, /\[1, 1, "released", \d+, -1\]/, /\[0, 0, "already_in_pool", \d+, \d+\]/, /Double release detected/],
      defense: [/executor-\d.*(back|free)/, /24 asked/, /distinct executors/],
      'edge-case-test': [/PASSED/, /test_double_callback_resilience/, /Double release detected/],
    };
    for (const [panel, patterns] of Object.entries(expectations)) {
      // A replay's last frame is drawn a moment after its bar says "ended": read until it shows, for 20 s at most.
      let shown = await text(panel);
      for (const deadline = Date.now() + 20_000; !patterns.every((pattern) => pattern.test(shown)) && Date.now() < deadline; ) {
        await new Promise((resolve) => setTimeout(resolve, 200));
        shown = await text(panel);
      }
      for (const pattern of patterns) assert.match(shown, pattern, `${panel}: ${shown.slice(0, 300)}`);
      assert.doesNotMatch(shown, /open the site to run it|reading Redis|not run yet/, panel);
      assert.equal(await page.locator(`[data-panel="${panel}"] .lp-actions button:visible, [data-panel="${panel}"] [data-role="replay"] button:visible`).count(), 0, `${panel}: nothing to press`);
    }
    assert.deepEqual(errors, []);
  } finally {
    await page.close();
  }
});

/** The text of the printed title page: what a reader of the PDF is told about the live site. */
async function titlePage(deckUrl: string): Promise<string> {
  assert.ok(browser);
  const { pdf } = await printDeck(browser, deckUrl);
  const [first] = pdfPageTexts(pdf);
  assert.match(first ?? '', /The Idempotency Challenge/);
  return first!;
}

const LOOPBACK = /127\.0\.0\.1|localhost|\[::1\]|only reachable/;

test('printed from the site on a loopback address, the title page names no address only this machine can open', async () => {
  const site = await startSite({}, { deck: true });
  try {
    assert.match(site.url, /127\.0\.0\.1/);
    const text = await titlePage(`${site.url}/`);
    assert.doesNotMatch(text, LOOPBACK);
    assert.match(text, /Open the live site on your phone/);
  } finally {
    await site.close();
  }
});

test('printed from the site with PUBLIC_URL, the title page shows the public address', async () => {
  const site = await startSite({ PUBLIC_URL: 'https://hall.example.net/talk' }, { deck: true });
  try {
    const text = await titlePage(`${site.url}/`);
    assert.match(text, /hall\.example\.net\/talk/);
    assert.doesNotMatch(text, LOOPBACK);
  } finally {
    await site.close();
  }
});

test('printed from a static build told its public address, the title page shows it', async () => {
  const host = await startStaticServer(await ensureDeckBuilt('static'));
  try {
    const text = await titlePage(`${host.url}/`);
    assert.match(text, new RegExp(new URL(STATIC_DECK_PUBLIC_URL).host + new URL(STATIC_DECK_PUBLIC_URL).pathname));
    assert.doesNotMatch(text, LOOPBACK);
  } finally {
    await host.close();
  }
});
