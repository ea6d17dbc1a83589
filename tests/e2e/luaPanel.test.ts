/**
 * The Lua slide's live panel in a real Chromium against the real site: the built
 * deck, the API, socket.io and a private Redis. Every check of what the panel
 * shows is cross-checked with what Redis holds (GET /api/pool), because the
 * panel must show Redis, not a guess.
 *
 * One browser, few pages (the machine has two cores): page A clicks, page B is a
 * second viewer opened before the clicks and never reloaded.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import type { PoolSnapshot } from '../../server/protocol.ts';
import { poolKeys } from '../../server/pool/keys.ts';
import { launchBrowser } from '../../tools/browser.ts';
import { loadDeck, newDeckContext, newDeckPage, showSlide } from '../../tools/deckPage.ts';
import { ensureDeckBuilt } from '../../tools/builtDeck.ts';
import { PRESENTER_SECRET, api, openAllPanels, startSite, type Site } from '../support/site.ts';

const LUA_TITLE = 'The Lua Script Solution';
const PANEL = '[data-panel="lua-release"]';

let site: Site | undefined;
let browser: Browser | undefined;
const contexts: BrowserContext[] = [];
/** The clicking viewer, and a second one watching; both opened before any click. */
let viewerA: Viewer;
let viewerB: Viewer;

interface Viewer {
  page: Page;
  context: BrowserContext;
  /** Uncaught exceptions in the page. */
  errors: Error[];
  /** Requests the page made to socket.io. */
  socketRequests: string[];
}

before(async () => {
  await ensureDeckBuilt();
  // No sweep: the Release once test makes a lost executor that must stay lost until it is released.
  site = await startSite({ REAPER_SWEEP_MS: '3600000' }, { deck: true });
  // The presenter has opened the panel: these viewers fire it as the hall would.
  openAllPanels(site);
  browser = await launchBrowser();
  viewerA = await openViewer('');
  viewerB = await openViewer('');
  await Promise.all([showSlide(viewerA.page, LUA_TITLE), showSlide(viewerB.page, LUA_TITLE)]);
});

after(async () => {
  for (const context of contexts) await context.close().catch(() => {});
  await browser?.close();
  await site?.close();
});

/** A fresh browser context (own cookies, own network switch) with one page of the deck. */
async function openViewer(query: string, hash = ''): Promise<Viewer> {
  assert.ok(browser && site, 'browser and site started');
  const context = await newDeckContext(browser);
  contexts.push(context);
  const errors: Error[] = [];
  const socketRequests: string[] = [];
  const page = await newDeckPage(context, errors);
  page.on('request', (request) => {
    if (new URL(request.url()).pathname.startsWith('/socket.io/')) socketRequests.push(request.url());
  });
  await loadDeck(page, `${site.url}/${query}${hash}`);
  return { page, context, errors, socketRequests };
}

async function poolInRedis(): Promise<PoolSnapshot> {
  assert.ok(site);
  const { status, body } = await api<PoolSnapshot>(site, 'GET', '/api/pool?pool=main');
  assert.equal(status, 200);
  return body;
}

/** The available list as the panel shows it, in its order. */
function shownAvailable(page: Page): Promise<string[]> {
  return page.locator(`${PANEL} [data-role="available"] .lp-chip`).evaluateAll((chips) => chips.map((chip) => chip.getAttribute('data-executor') ?? ''));
}

/** Waits until the panel's available list is exactly `expected` (from Redis). */
async function waitForAvailable(page: Page, expected: string[]): Promise<void> {
  await page.waitForFunction(
    ({ panel, list }) =>
      JSON.stringify([...document.querySelectorAll(`${panel} [data-role="available"] .lp-chip`)].map((chip) => chip.getAttribute('data-executor'))) ===
      JSON.stringify(list),
    { panel: PANEL, list: expected },
  );
}

/** The replies box: each reply's status and its tuple's text. */
function shownReplies(page: Page): Promise<{ status: string; executor: string; tuple: string }[]> {
  return page.locator(`${PANEL} [data-role="replies"] .lp-reply[data-kind="release"]`).evaluateAll((replies) =>
    replies.map((reply) => ({
      status: reply.getAttribute('data-status') ?? '',
      executor: reply.getAttribute('data-executor') ?? '',
      tuple: reply.querySelector('.lp-tuple')?.textContent ?? '',
    })),
  );
}

function button(page: Page, name: string) {
  return page.locator(PANEL).getByRole('button', { name, exact: true });
}

async function waitForStatuses(page: Page, statuses: string[]): Promise<void> {
  await page.waitForFunction(
    ({ panel, expected }) =>
      JSON.stringify([...document.querySelectorAll(`${panel} [data-role="replies"] .lp-reply[data-kind="release"]`)].map((reply) => reply.getAttribute('data-status'))) ===
      JSON.stringify(expected),
    { panel: PANEL, expected: statuses },
  );
}

test('a viewer sees the pool exactly as Redis holds it, connected through one socket', async () => {
  const { page } = viewerA;
  await page.locator(`${PANEL} [data-role="badge"][data-state="connected"]`).waitFor();
  const redis = await poolInRedis();
  await waitForAvailable(page, redis.available);
  assert.deepEqual(
    await page.locator(`${PANEL} [data-role="executors"] .lp-row`).evaluateAll((rows) => rows.map((row) => row.getAttribute('data-executor'))),
    redis.executors,
  );
  for (const name of ['Allocate', 'Release once', 'Double release']) assert.equal(await button(page, name).isEnabled(), true, name);
  // Two viewers, two sockets: one per page, however many panels it has.
  assert.equal(site?.io.engine.clientsCount, 2);
});

test('allocate, then double release: the script replies released then already_in_pool, and every viewer sees it', async () => {
  const { page } = viewerA;
  const other = viewerB.page;
  await other.locator(`${PANEL} [data-role="badge"][data-state="connected"]`).waitFor();
  // Proof that B never reloads: this mark would be gone.
  await other.evaluate(() => Object.assign(window, { stillTheSamePage: true }));

  // Allocate: an executor leaves the list (RPOP) and gets a busy marker with a TTL.
  await button(page, 'Allocate').click();
  const allocated = page.locator(`${PANEL} [data-role="replies"] .lp-reply[data-kind="allocation"]`);
  await allocated.waitFor();
  const executor = (await allocated.getAttribute('data-executor')) ?? '';
  assert.match(executor, /^executor-\d+$/);

  const evalId = (await allocated.getAttribute('data-eval-id')) ?? '';
  let redis = await poolInRedis();
  const owner = redis.busy[executor];
  assert.match(evalId, /^eval-[0-9a-f]+$/);
  assert.equal(owner, evalId, `Redis holds ${executor}'s busy marker for the panel's eval id`);
  assert.ok(!redis.available.includes(executor));
  await waitForAvailable(page, redis.available);
  const row = page.locator(`${PANEL} .lp-row[data-executor="${executor}"]`);
  await row.locator('.lp-owner', { hasText: owner }).waitFor();
  assert.equal(await row.getAttribute('aria-checked'), 'true', 'the freshly allocated executor is the release target');
  const ttl = (await row.locator('.lp-ttl').textContent()) ?? '';
  assert.match(ttl, /^\d+:\d\d$/, 'the busy marker TTL counts down');
  const [minutes, seconds] = ttl.split(':').map(Number);
  assert.ok(minutes! * 60 + seconds! <= Math.ceil((redis.busyTtlMs[executor] ?? 0) / 1000) + 1, `TTL ${ttl} is Redis' PTTL counting down`);
  // B saw the allocation too, with its owner.
  await other.locator(`${PANEL} .lp-row[data-executor="${executor}"] .lp-owner`, { hasText: owner }).waitFor();

  // Double release: both callbacks back to back.
  await button(page, 'Double release').click();
  await waitForStatuses(page, ['released', 'already_in_pool']);
  const replies = await shownReplies(page);
  assert.deepEqual(replies.map((reply) => reply.executor), [executor, executor]);
  assert.match(replies[0]!.tuple, /^\[1, 1, "released", \d{13}, -?\d+\]$/);
  assert.match(replies[1]!.tuple, /^\[0, 0, "already_in_pool", \d{13}, \d{13}\]$/);
  await page.locator(`${PANEL} [data-role="replies"] .lp-who-me`).waitFor();
  await page.locator(`${PANEL} [data-role="log"] .lp-log-warning`, { hasText: `Double release detected: ${executor}` }).waitFor();

  // Exactly once in the list, in the panel and in Redis.
  redis = await poolInRedis();
  assert.equal(redis.available.filter((url) => url === executor).length, 1, 'Redis lists the executor once');
  assert.equal(redis.busy[executor], undefined, 'and its busy marker is gone');
  await waitForAvailable(page, redis.available);
  assert.equal((await shownAvailable(page)).filter((url) => url === executor).length, 1);
  assert.equal(await page.locator(`${PANEL} .lp-chip.lp-dup`).count(), 0);

  // The other viewer: the same replies (another viewer's click), the same list, the same warning.
  await waitForStatuses(other, ['released', 'already_in_pool']);
  assert.deepEqual(await shownReplies(other), replies);
  assert.equal(await other.locator(`${PANEL} [data-role="replies"] .lp-who`).textContent(), 'another viewer');
  await waitForAvailable(other, redis.available);
  await other.locator(`${PANEL} [data-role="log"] .lp-log-warning`, { hasText: 'Double release detected' }).waitFor();
  assert.equal(await other.evaluate(() => (window as { stillTheSamePage?: boolean }).stillTheSamePage), true);
});

test('Release once: released, then already_in_pool; after the marker expired, not_busy and nothing added', async () => {
  assert.ok(site);
  const { page } = viewerA;
  const reset = await api<PoolSnapshot>(site, 'POST', '/api/pool/reset', { pool: 'main' }, { authorization: `Bearer ${PRESENTER_SECRET}` });
  assert.equal(reset.status, 200);
  await waitForAvailable(page, reset.body.available);

  const allocateOne = async (): Promise<string> => {
    const before = await page.locator(`${PANEL} [data-role="replies"] .lp-reply[data-kind="allocation"]`).getAttribute('data-eval-id').catch(() => null);
    await button(page, 'Allocate').click();
    await page.waitForFunction(
      ({ panel, previous }) => {
        const reply = document.querySelector(`${panel} [data-role="replies"] .lp-reply[data-kind="allocation"]`);
        return reply !== null && reply.getAttribute('data-eval-id') !== previous;
      },
      { panel: PANEL, previous: before },
    );
    const executor = (await page.locator(`${PANEL} [data-role="replies"] .lp-reply[data-kind="allocation"]`).getAttribute('data-executor')) ?? '';
    assert.match(executor, /^executor-\d+$/);
    await waitForAvailable(page, (await poolInRedis()).available);
    return executor;
  };

  // One click, one release: the executor is back once.
  const executor = await allocateOne();
  await button(page, 'Release once').click();
  await waitForStatuses(page, ['released']);
  assert.match((await shownReplies(page))[0]!.tuple, /^\[1, 1, "released", \d{13}, -?\d+\]$/);
  let redis = await poolInRedis();
  assert.equal(redis.available.filter((url) => url === executor).length, 1);
  await waitForAvailable(page, redis.available);

  // Again: the script finds it in the list and adds nothing.
  await button(page, 'Release once').click();
  await waitForStatuses(page, ['already_in_pool']);
  assert.match((await shownReplies(page))[0]!.tuple, /^\[0, 0, "already_in_pool", \d{13}, \d{13}\]$/);
  assert.equal((await poolInRedis()).available.filter((url) => url === executor).length, 1);

  // A late release after the busy marker ran out (deleted here, as its TTL would): not_busy, nothing added.
  const lost = await allocateOne();
  assert.equal(await site.redis.del(poolKeys('main').busyPrefix + lost), 1);
  await button(page, 'Release once').click();
  await waitForStatuses(page, ['not_busy']);
  assert.match((await shownReplies(page))[0]!.tuple, /^\[0, 0, "not_busy", \d{13}, -?\d+\]$/);
  redis = await poolInRedis();
  assert.ok(!redis.available.includes(lost), 'the late release did not put it back');
  await waitForAvailable(page, redis.available);
  assert.ok(!(await shownAvailable(page)).includes(lost));
  await site.actions.pools.reclaim('main', 'sweep');
});

test('a duplicate in the list (the naive release) shows twice, in red', async () => {
  assert.ok(site);
  const { page } = viewerA;
  // Attempt 2 of the talk, done to Redis directly: release an executor twice without the script.
  const allocation = await site.actions.pools.allocate('main', 'eval-naive');
  assert.ok(allocation);
  await site.actions.pools.releaseNaive('main', allocation.executor);
  await site.actions.pools.releaseNaive('main', allocation.executor);

  const redis = await poolInRedis();
  assert.equal(redis.available.filter((url) => url === allocation.executor).length, 2);
  await waitForAvailable(page, redis.available);
  assert.deepEqual(
    await page.locator(`${PANEL} .lp-chip.lp-dup`).evaluateAll((chips) => chips.map((chip) => chip.getAttribute('data-executor'))),
    [allocation.executor, allocation.executor],
  );
  await page.locator(`${PANEL} .lp-row[data-executor="${allocation.executor}"][data-state="bad"]`).waitFor();

  // Back to a clean pool for what follows.
  const reset = await api<PoolSnapshot>(site, 'POST', '/api/pool/reset', { pool: 'main' }, { authorization: `Bearer ${PRESENTER_SECRET}` });
  assert.equal(reset.status, 200);
  await waitForAvailable(page, reset.body.available);
  assert.equal(await page.locator(`${PANEL} .lp-chip.lp-dup`).count(), 0);
});

test('errors from the server are shown in plain words', async () => {
  assert.ok(site);
  const { page } = viewerA;
  // Empty the pool behind the panel's back, then ask for one more.
  const before = await poolInRedis();
  for (let i = 0; i < before.available.length; i++) await site.actions.pools.allocate('main', `eval-drain-${i}`);
  await waitForAvailable(page, []);
  await button(page, 'Allocate').click();
  await page.locator(`${PANEL} [data-role="error"]`, { hasText: 'The pool is empty' }).waitFor();

  const reset = await api<PoolSnapshot>(site, 'POST', '/api/pool/reset', { pool: 'main' }, { authorization: `Bearer ${PRESENTER_SECRET}` });
  await waitForAvailable(page, reset.body.available);
  // From the keyboard this time: Space presses the button and leaves the slide where it is.
  const slide = await page.evaluate(() => JSON.stringify(window.Reveal?.getIndices()));
  await button(page, 'Allocate').focus();
  await page.keyboard.press('Space');
  await page.locator(`${PANEL} [data-role="error"]`).waitFor({ state: 'hidden' });
  assert.equal(Object.keys((await poolInRedis()).busy).length, 1, 'the allocation happened');
  assert.equal(await page.evaluate(() => JSON.stringify(window.Reveal?.getIndices())), slide, 'the deck did not advance (no slide, no fragment)');
});

test('offline: the badge says so and the buttons are disabled; back online the panel re-reads Redis', async () => {
  assert.ok(site);
  const { page, context } = viewerB;
  await page.locator(`${PANEL} [data-role="badge"][data-state="connected"]`).waitFor();

  await context.setOffline(true);
  await page.locator(`${PANEL} [data-role="badge"]:is([data-state="offline"], [data-state="reconnecting"])`).waitFor();
  for (const name of ['Allocate', 'Release once', 'Double release']) {
    await page.waitForFunction(
      ({ panel, label }) => [...document.querySelectorAll<HTMLButtonElement>(`${panel} .lp-button`)].find((b) => b.textContent === label)?.disabled === true,
      { panel: PANEL, label: name },
    );
  }

  // While B is away, the pool changes: B must catch up on its own when it is back.
  const allocated = await api<{ executor: string }>(site, 'POST', '/api/allocate', { evalId: 'eval-while-away', pool: 'main' });
  assert.equal(allocated.status, 200);
  const redis = await poolInRedis();

  await context.setOffline(false);
  await page.locator(`${PANEL} [data-role="badge"][data-state="connected"]`).waitFor();
  await waitForAvailable(page, redis.available);
  await page.locator(`${PANEL} .lp-row[data-executor="${allocated.body.executor}"] .lp-owner`, { hasText: 'eval-while-away' }).waitFor();
  await page.locator(`${PANEL} [data-role="log"] .lp-log-note`, { hasText: 'reconnected' }).waitFor();
  await page.waitForFunction((panel) => document.querySelector<HTMLButtonElement>(`${panel} .lp-button`)?.disabled === false, PANEL);
  assert.deepEqual(viewerB.errors, []);
  assert.deepEqual(viewerA.errors, []);
});

test("the speaker view's previews open no socket; printed, the panel shows the pool as Redis holds it, nothing to press", async () => {
  assert.ok(site);
  const sockets = site.io.engine.clientsCount;
  // The notes plugin loads the deck in its preview frames with these parameters.
  const preview = await openViewer('?receiver&progress=false&history=false&transition=none&autoSlide=0&backgroundTransition=none', '#/5');
  await preview.page.locator(`${PANEL} .lp-static`, { hasText: 'Live demo' }).waitFor();
  // A barrier, not a sleep: the panels run before the note shows, and socket.io would
  // have sent its first request synchronously then. A request made now is reported after it.
  assert.equal(await preview.page.evaluate(() => fetch('/healthz').then((r) => r.status)), 200);
  assert.deepEqual(preview.socketRequests, [], 'no request to socket.io');
  assert.equal(await preview.page.locator(`${PANEL} button`).count(), 0, 'no buttons');
  assert.deepEqual(preview.errors, []);
  assert.equal(site.io.engine.clientsCount, sockets);

  // Printed with a server: the panel's last real state is the pool as Redis holds it, not a placeholder.
  const pdf = await openViewer('?print-pdf');
  const redis = await poolInRedis();
  await pdf.page.waitForFunction(
    ({ panel, wanted }) =>
      JSON.stringify([...document.querySelectorAll(`${panel} [data-role="available"] .lp-chip`)].map((chip) => chip.getAttribute('data-executor'))) === wanted,
    { panel: PANEL, wanted: JSON.stringify(redis.available) },
    { timeout: 15_000 },
  );
  assert.doesNotMatch((await pdf.page.locator(PANEL).textContent()) ?? '', /open the site to run it/);
  assert.equal(await pdf.page.locator(`${PANEL} .lp-actions button:visible, ${PANEL} [data-role="replay"] button:visible`).count(), 0, 'nothing to press on paper');
  assert.deepEqual(pdf.errors, []);
  // The live pages did connect, once each (polling requests, then the websocket upgrade).
  assert.ok(viewerA.socketRequests.length > 0);
});
