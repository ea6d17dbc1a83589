/**
 * The first load in a real Chromium against the real site: the JS and CSS needed
 * before the first slide is ready stay within the hall's budget (compressed bytes
 * as Chromium counts them, with brotli and with gzip only); code is still
 * highlighted, in Python and Lua only; a panel's code arrives when its slide comes
 * near, and the panel shows up there; the speaker view still opens.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import type { Browser, Page } from 'playwright-core';
import { loadDeck, newDeckPage, showSlide } from '../../tools/deckPage.ts';
import { startDeckSite, type DeckSite } from '../support/deckSite.ts';
import { measureFirstLoad } from '../../tools/firstLoad.ts';
import type { Site } from '../support/site.ts';

/** Compressed JS + CSS that may be needed before the first slide is ready. */
const BUDGET_BYTES = 120_000;
/** Chunks that must not be needed for the first slide: the panels, socket.io, the speaker view. */
const LATER_CODE = /Panel-[\w-]+\.js$|\/connection-[\w-]+\.js$|\/notes-[\w-]+\.js$|\/runs-[\w-]+\.(js|css)$|socket\.io/;

/** Every test fails rather than hangs. */
const TEST_DEADLINE_MS = 60_000;

let deck: DeckSite | undefined;
let site: Site;
let browser: Browser;

before(async () => {
  deck = await startDeckSite();
  ({ site, browser } = deck);
});

after(() => deck?.close());

async function openDeck(errors: Error[], path = '/'): Promise<Page> {
  const context = await deck!.newContext();
  const page = await newDeckPage(context, errors);
  page.setDefaultTimeout(15_000);
  await loadDeck(page, `${site.url}${path}`);
  return page;
}

/** Below this, a file may come uncompressed. */
const COMPRESSIBLE_BYTES = 1024;

for (const [label, acceptEncoding, coding] of [
  ['brotli', undefined, 'br'],
  ['gzip only', 'gzip, deflate', 'gzip'],
] as const) {
  test(`the first slide needs at most ${BUDGET_BYTES / 1000} KB of compressed JS+CSS (${label})`, { timeout: TEST_DEADLINE_MS }, async () => {
    const load = await measureFirstLoad(browser, `${site.url}/`, { acceptEncoding, timeoutMs: 15_000 });
    const needed = load.resources.filter((resource) => resource.beforeReady && (resource.type === 'script' || resource.type === 'stylesheet'));
    assert.ok(needed.some((resource) => resource.type === 'script') && needed.some((resource) => resource.type === 'stylesheet'), 'the deck needed its script and stylesheet');
    // A file of a few hundred bytes is served as it is: compression would make it larger (build/precompress.ts keeps
    // no variant that does not shrink), and it costs a header's worth either way.
    for (const resource of needed) {
      if (resource.coding === coding) continue;
      const size = (await (await fetch(resource.url, { headers: { 'accept-encoding': 'identity' } })).arrayBuffer()).byteLength;
      assert.ok(size < COMPRESSIBLE_BYTES, `${resource.url} (${size} bytes) came ${resource.coding || 'un'}compressed, not ${coding}`);
    }
    assert.ok(needed.filter((resource) => resource.coding === coding).length >= 2, `the deck's script and stylesheet came ${coding}-compressed`);
    const bytes = load.bytesBeforeReady.script + load.bytesBeforeReady.stylesheet;
    assert.ok(bytes <= BUDGET_BYTES, `JS+CSS before the first slide: ${bytes} bytes (budget ${BUDGET_BYTES}): ${needed.map((r) => `${r.url.split('/').pop()} ${r.encodedBytes}`).join(', ')}`);
    assert.deepEqual(needed.filter((resource) => LATER_CODE.test(resource.url)).map((resource) => resource.url), [], 'no panel, socket or speaker-view code before the first slide');
    // The probe's key press moved the deck: it was interactive.
    assert.ok(load.keyToSlideMs >= 0 && load.keyToSlideMs < 1000, `→ moved the deck ${load.keyToSlideMs} ms after the key`);
  });
}

test('a second visit takes the hashed assets from the cache: only the HTML goes over the network', { timeout: TEST_DEADLINE_MS }, async () => {
  const load = await measureFirstLoad(browser, `${site.url}/`, { repeatVisit: true, timeoutMs: 15_000 });
  const needed = load.resources.filter((resource) => resource.beforeReady);
  assert.ok(needed.some((resource) => /\/assets\/index-[\w-]+\.js$/.test(resource.url)), 'the deck script was used');
  const overNetwork = needed.filter((resource) => resource.url.includes('/assets/') && resource.encodedBytes > 0);
  assert.deepEqual(overNetwork.map((resource) => `${resource.url} ${resource.encodedBytes}`), [], 'no asset downloaded again');
});

test('Python and Lua are highlighted, and highlight.js carries only those two languages', { timeout: TEST_DEADLINE_MS }, async () => {
  const errors: Error[] = [];
  const page = await openDeck(errors);
  const languages = await page.evaluate(() => {
    const plugin = window.Reveal?.getPlugin('highlight') as unknown as { hljs: { listLanguages(): string[] } } | undefined;
    return plugin?.hljs.listLanguages().sort() ?? [];
  });
  assert.deepEqual(languages, ['lua', 'python']);

  const highlighted = (language: string) =>
    page.evaluate((lang) => {
      const blocks = [...document.querySelectorAll(`.reveal pre code.language-${lang}`)];
      return {
        blocks: blocks.length,
        highlighted: blocks.filter((block) => block.classList.contains('hljs') && block.querySelector('[class^="hljs-"]') !== null).length,
        keywords: [...new Set(blocks.flatMap((block) => [...block.querySelectorAll('.hljs-keyword')].map((k) => k.textContent)))],
      };
    }, language);
  const python = await highlighted('python');
  assert.ok(python.blocks >= 5, `${python.blocks} Python blocks`);
  assert.equal(python.highlighted, python.blocks, 'every Python block highlighted');
  assert.ok(python.keywords.includes('def'), `Python keywords: ${python.keywords.join(' ')}`);
  const lua = await highlighted('lua');
  assert.ok(lua.blocks >= 1, 'a Lua block');
  assert.equal(lua.highlighted, lua.blocks, 'every Lua block highlighted');
  assert.ok(lua.keywords.includes('local'), `Lua keywords: ${lua.keywords.join(' ')}`);

  // The Lua slide's line steps (reveal's highlight plugin) still work: lines numbered and lit.
  await showSlide(page, 'The Lua Script Solution');
  const lit = await page.evaluate(() => window.Reveal?.getCurrentSlide()?.querySelectorAll('pre code tr.highlight-line').length ?? 0);
  assert.ok(lit > 0, 'the Lua slide lights its first lines');
  assert.deepEqual(errors, []);
});

test("a panel's code loads when its slide comes near, and the panel shows up there", { timeout: TEST_DEADLINE_MS }, async () => {
  const errors: Error[] = [];
  const page = await openDeck(errors);
  const requested: string[] = [];
  page.on('request', (request) => requested.push(request.url()));
  const edge = page.locator('[data-panel="edge-case-test"]');
  // Slide 1: the edge-case panel (slide 10) is far; its placeholder is empty and its code not fetched.
  assert.equal(await edge.evaluate((element) => element.childElementCount), 0);
  assert.deepEqual(requested.filter((url) => /edgeCaseTestPanel-/.test(url)), []);
  // The slide next to the first one is near: its panel starts without anyone going there.
  await page.locator('[data-panel="innocent-pattern"] > *').first().waitFor({ state: 'attached' });

  await showSlide(page, 'Testing the Edge Cases');
  await edge.locator('> *').first().waitFor();
  assert.ok(requested.some((url) => /edgeCaseTestPanel-[\w-]+\.js$/.test(url)), 'the panel chunk was fetched on the way');

  await showSlide(page, 'The Lua Script Solution');
  await page.locator('[data-panel="lua-release"] [data-role="badge"][data-state="connected"]').waitFor();
  // All panels share the page's one socket.
  const sockets = requested.filter((url) => /socket\.io\/\?.*transport=polling/.test(url) && !/sid=/.test(url));
  assert.ok(sockets.length <= 1, `one socket.io handshake for the page, saw ${sockets.length}`);
  assert.deepEqual(errors, []);
});

test('the speaker view opens (S) once the deck is up, with its previews', { timeout: TEST_DEADLINE_MS }, async () => {
  const errors: Error[] = [];
  const page = await openDeck(errors);
  await page.waitForFunction(() => window.Reveal?.hasPlugin('notes') === true);
  const [speaker] = await Promise.all([page.context().waitForEvent('page', { timeout: 10_000 }), page.keyboard.press('s')]);
  await speaker.locator('#current-slide iframe').waitFor({ timeout: 10_000 });
  await speaker.locator('#connection-status').waitFor({ state: 'hidden', timeout: 10_000 });
  await speaker.close();
  assert.deepEqual(errors, []);
});
