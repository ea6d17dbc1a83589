/**
 * A build told it is static (`npm run build:static`, VITE_STATIC_DECK=1): the
 * panels replay at once and the page never looks for a server (no socket.io
 * request at all), on a plain static host. The static variant of the built deck
 * (tools/builtDeck.ts), built once per run.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import type { Browser, BrowserContext } from 'playwright-core';
import { launchBrowser } from '../../tools/browser.ts';
import { ensureDeckBuilt } from '../../tools/builtDeck.ts';
import { loadDeck, newDeckContext, newDeckPage, showSlide } from '../../tools/deckPage.ts';
import { startStaticServer, type StaticServer } from '../support/staticServer.ts';

let server: StaticServer | null = null;
let browser: Browser | null = null;
let context: BrowserContext | null = null;

before(async () => {
  server = await startStaticServer(await ensureDeckBuilt('static'));
  browser = await launchBrowser();
  context = await newDeckContext(browser);
});

after(async () => {
  await context?.close().catch(() => {});
  await browser?.close();
  await server?.close();
});

test('told it is static, the deck replays at once and never asks for a server', async () => {
  assert.ok(server && context);
  const errors: Error[] = [];
  const page = await newDeckPage(context, errors);
  const socketRequests: string[] = [];
  page.on('request', (request) => {
    if (new URL(request.url()).pathname.includes('/socket.io/')) socketRequests.push(request.url());
  });
  await loadDeck(page, `${server.url}/`);
  await showSlide(page, 'Act 1: The Innocent Pattern');
  await page.locator('[data-panel="innocent-pattern"] [data-role="replay-label"]').waitFor({ timeout: 10_000 });
  await showSlide(page, 'The Lua Script Solution');
  await page.locator('[data-panel="lua-release"] [data-role="replies"] .lp-reply[data-status="already_in_pool"]').waitFor({ timeout: 20_000 });
  // A barrier, not a sleep: a socket.io request made before this fetch is reported before it returns.
  assert.equal(await page.evaluate(() => fetch('./index.html').then((r) => r.status)), 200);
  assert.deepEqual(socketRequests, []);
  assert.deepEqual(errors, []);
});
