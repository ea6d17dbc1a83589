/**
 * A build told it is static (`npm run build:static`, VITE_STATIC_DECK=1): the
 * panels replay at once and the page never looks for a server (no socket.io
 * request at all), on a plain static host.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'vite';
import type { Browser, BrowserContext } from 'playwright-core';
import { launchBrowser } from '../support/browser.ts';
import { loadDeck, newDeckContext, newDeckPage, showSlide } from '../support/deckPage.ts';
import { startStaticServer, type StaticServer } from '../support/staticServer.ts';

const CONFIG_FILE = fileURLToPath(new URL('../../vite.config.ts', import.meta.url));

let outDir = '';
let server: StaticServer | null = null;
let browser: Browser | null = null;
let context: BrowserContext | null = null;

before(async () => {
  outDir = await mkdtemp(join(tmpdir(), 'idem-static-'));
  const previous = process.env.VITE_STATIC_DECK;
  process.env.VITE_STATIC_DECK = '1';
  try {
    await build({ configFile: CONFIG_FILE, logLevel: 'warn', build: { outDir, emptyOutDir: true } });
  } finally {
    if (previous === undefined) delete process.env.VITE_STATIC_DECK;
    else process.env.VITE_STATIC_DECK = previous;
  }
  server = await startStaticServer(outDir);
  browser = await launchBrowser();
  context = await newDeckContext(browser);
});

after(async () => {
  await context?.close().catch(() => {});
  await browser?.close();
  await server?.close();
  if (outDir) await rm(outDir, { recursive: true, force: true });
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
