/**
 * The hall in real browsers, several pages at once against the real site: the
 * presenter's window (signed in through the presenter link), a phone and a laptop
 * that follow, a late joiner, a reader who steps away or opens a deep link; what a
 * follower cannot do; a panel closed to the audience, then opened; one session's
 * pages sharing one limit; and the join slide's QR code, decoded.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import jsQR from 'jsqr';
import { PNG } from 'pngjs';
import { io, type Socket } from 'socket.io-client';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import type { Ack, PoolSnapshot } from '../../server/protocol.ts';
import { SESSION_COOKIE } from '../../server/session/sessions.ts';
import { launchBrowser } from '../../tools/browser.ts';
import { loadDeck, newDeckPage } from '../../tools/deckPage.ts';
import { ensureDeckBuilt } from '../../tools/builtDeck.ts';
import { api, PRESENTER_SECRET, startSite, type Site } from '../support/site.ts';
import { withDeadline } from '../support/deadline.ts';
import { poolState } from '../support/redis.ts';

/** How long a follower may take to follow the presenter. */
const FOLLOW_MS = 1000;
/** A safety net for waits that end on an event. */
const WAIT = { timeout: 15_000 };
const LUA = 5;
const LUA_PANEL = '[data-panel="lua-release"]';

let site: Site;
let browser: Browser;
const contexts: BrowserContext[] = [];
const errors: Error[] = [];
let presenter: Page;
let phone: Page;
let laptop: Page;

before(async () => {
  await ensureDeckBuilt();
  site = await startSite({ VIEWER_ACTIONS_PER_SECOND: '0.2', VIEWER_ACTION_BURST: '3', REAPER_SWEEP_MS: '3600000' }, { deck: true });
  browser = await launchBrowser();
  presenter = await openPage('laptop', `/presenter?token=${encodeURIComponent(PRESENTER_SECRET)}`);
  await presenter.locator('[data-role="hall-bar"][data-state="driving"]').waitFor(WAIT);
  // The token leaves the address bar at once and is nowhere in the page.
  assert.equal(presenter.url(), `${site.url}/`);
  assert.ok(!(await presenter.content()).includes(PRESENTER_SECRET), 'the token is not in the page');
  phone = await openPage('phone', '/');
  laptop = await openPage('laptop', '/');
  for (const page of [phone, laptop]) await page.locator('[data-role="hall-bar"][data-state="following"]').waitFor({ state: 'attached', ...WAIT });
});

after(async () => {
  for (const context of contexts) await context.close().catch(() => {});
  await browser?.close();
  await site?.close();
});

async function newContext(kind: 'phone' | 'laptop'): Promise<BrowserContext> {
  const context = await browser.newContext(
    kind === 'phone' ? { viewport: { width: 390, height: 844 }, isMobile: true, hasTouch: true, deviceScaleFactor: 2 } : { viewport: { width: 1280, height: 800 } },
  );
  contexts.push(context);
  return context;
}

async function openPage(kind: 'phone' | 'laptop', path: string, context?: BrowserContext): Promise<Page> {
  const page = await newDeckPage(context ?? (await newContext(kind)), errors);
  await loadDeck(page, `${site.url}${path}`);
  return page;
}

const indices = (page: Page) => page.evaluate(() => window.Reveal!.getIndices());

/**
 * Moves the presenter with `move` and resolves with how long each follower took to
 * show the same slide and fragment, measured in the pages (one machine, one clock).
 */
async function presenterMoves(move: () => Promise<unknown>, followers: Page[]): Promise<number[]> {
  // A string, not a function: the test runner's transform would wrap a named inner function in a helper the page lacks.
  const arrivals = followers.map((page) =>
    page.evaluate<number>(`new Promise((resolve) => {
      const deck = window.Reveal;
      const events = ['slidechanged', 'fragmentshown', 'fragmenthidden'];
      const moved = () => {
        for (const event of events) deck.off(event, moved);
        resolve(Date.now());
      };
      for (const event of events) deck.on(event, moved);
    })`),
  );
  // A page runs its evaluations in order: once this one answered, the listeners above are in place.
  await Promise.all(followers.map((page) => page.evaluate(() => true)));
  const sentAt = Date.now();
  await move();
  const arrived = await withDeadline(Promise.all(arrivals), 10_000, 'the followers to move');
  const target = await indices(presenter);
  for (const page of followers) {
    const at = await indices(page);
    assert.deepEqual([at.h, at.v, at.f ?? -1], [target.h, target.v, target.f ?? -1], 'the follower shows what the presenter shows');
  }
  return arrived.map((at) => at - sentAt);
}

async function poolInRedis(): Promise<PoolSnapshot> {
  const { body } = await api<PoolSnapshot>(site, 'GET', '/api/pool?pool=main');
  return body;
}

test('the presenter moves; a phone and a laptop follow within 1 s; a late joiner lands on the current slide', async (t) => {
  const latencies: number[] = [];
  latencies.push(...(await presenterMoves(() => presenter.evaluate((h) => window.Reveal!.slide(h), 1), [phone, laptop])));
  // A fragment is a move too: the warning on Act 1.
  latencies.push(...(await presenterMoves(() => presenter.keyboard.press('ArrowRight'), [phone, laptop])));
  assert.equal((await indices(phone)).f, 0, 'the fragment shows on the phone');
  latencies.push(...(await presenterMoves(() => presenter.evaluate((h) => window.Reveal!.slide(h), LUA), [phone, laptop])));
  t.diagnostic(`followed in ${latencies.join(', ')} ms (phone, laptop; three moves)`);
  for (const latency of latencies) assert.ok(latency < FOLLOW_MS, `followed in ${latency} ms (all: ${latencies.join(', ')})`);

  // On the phone the slide is scrolled into view, not only made current.
  await phone.waitForFunction((h) => Math.abs(window.Reveal!.getSlide(h)!.getBoundingClientRect().top) <= 2, LUA, WAIT);

  const late = await openPage('phone', '/');
  await late.waitForFunction((h) => window.Reveal!.getIndices().h === h, LUA, WAIT);
  await late.locator('[data-role="hall-bar"][data-state="following"]').waitFor({ state: 'attached', ...WAIT });
  await late.context().close();
  assert.deepEqual(errors, []);
});

test('the presenter goes down to the slide below "The Shocking Discovery": followers land on it, and so does a late joiner', async () => {
  const latencies = await presenterMoves(() => presenter.evaluate(() => window.Reveal!.slide(2, 1)), [phone, laptop]);
  for (const latency of latencies) assert.ok(latency < FOLLOW_MS, `followed in ${latency} ms`);
  for (const page of [phone, laptop]) {
    assert.deepEqual(await indices(page).then(({ h, v }) => [h, v]), [2, 1]);
    assert.equal(await page.evaluate(() => window.Reveal!.getCurrentSlide()?.querySelector('h2')?.textContent?.trim()), 'Does Celery really do that?');
  }
  assert.deepEqual([site.hall.deck.state.h, site.hall.deck.state.v], [2, 1], 'the deck state carries the slide below');
  // On the phone the slide below is scrolled into view.
  await phone.waitForFunction(() => Math.abs(window.Reveal!.getCurrentSlide()!.getBoundingClientRect().top) <= 2, null, WAIT);
  const late = await openPage('laptop', '/');
  await late.waitForFunction(() => window.Reveal!.getIndices().h === 2 && window.Reveal!.getIndices().v === 1, null, WAIT);
  await late.locator('[data-role="hall-bar"][data-state="following"]').waitFor(WAIT);
  await late.context().close();
  // Back up and on: the followers leave it with the presenter.
  await presenterMoves(() => presenter.evaluate(() => window.Reveal!.slide(3)), [phone, laptop]);
  assert.deepEqual(errors, []);
});

test('a follower who steps away stays there until "Back to live"; a deep link starts un-following', async () => {
  await presenter.evaluate((h) => window.Reveal!.slide(h), 2);
  await laptop.waitForFunction(() => window.Reveal!.getIndices().h === 2, null, WAIT);
  await laptop.keyboard.press('ArrowLeft');
  await laptop.locator('[data-role="hall-bar"][data-state="away"]').waitFor(WAIT);
  const awayAt = (await indices(laptop)).h;

  await presenterMoves(() => presenter.evaluate(() => window.Reveal!.slide(3)), [phone]);
  assert.equal((await indices(laptop)).h, awayAt, 'the reader who stepped away is not moved');
  // The number reveal shows on the slide (a slide below another counts): h 3 is the fifth slide.
  await laptop.locator('[data-role="hall-bar"]', { hasText: 'Live is on slide 5' }).waitFor(WAIT);

  await laptop.locator('[data-role="back-to-live"]').click();
  await laptop.waitForFunction(() => window.Reveal!.getIndices().h === 3, null, WAIT);
  await laptop.locator('[data-role="hall-bar"][data-state="following"]').waitFor(WAIT);

  const reader = await openPage('laptop', '/#/7');
  await reader.locator('[data-role="hall-bar"][data-state="away"]').waitFor(WAIT);
  await presenterMoves(() => presenter.evaluate(() => window.Reveal!.slide(4)), [laptop]);
  assert.equal((await indices(reader)).h, 7, 'the deep link wins over the presenter');
  await reader.context().close();
  assert.deepEqual(errors, []);
});

test('a follower cannot move others, open panels or reset: forbidden, and nothing changes', async () => {
  await presenterMoves(() => presenter.evaluate((h) => window.Reveal!.slide(h), LUA), [phone, laptop]);
  await phone.locator(`${LUA_PANEL} [data-role="gate"]`).waitFor(WAIT);
  // No presenter controls on a follower's page, and H opens no console.
  assert.equal(await phone.locator(`${LUA_PANEL} [data-role="gate-toggle"]`).isVisible(), false);
  assert.equal(await laptop.locator('[data-role="open-console"]').isVisible(), false);
  await laptop.keyboard.press('h');
  assert.equal(await laptop.locator('[data-role="hall-console"]').count(), 0);

  const before = { deck: site.hall.deck.state, pool: poolState(await poolInRedis()) };
  // The follower's own session, as its browser holds it (the cookie is HttpOnly: read through the browser's jar).
  const cookies = await laptop.context().cookies();
  const session = cookies.find((cookie) => cookie.name === SESSION_COOKIE);
  assert.ok(session, 'the follower has a session cookie');
  assert.equal(session.httpOnly, true);
  const socket: Socket = io(site.url, { transports: ['websocket'], forceNew: true, reconnection: false, extraHeaders: { cookie: `${SESSION_COOKIE}=${session.value}` } });
  try {
    await withDeadline(new Promise<void>((resolve, reject) => socket.once('connect', () => resolve()).once('connect_error', reject)), 10_000, 'the socket to connect');
    for (const [event, payload] of [
      ['deck:move', { h: 9, v: 0, f: -1 }],
      ['panel:open', { panel: 'lua-release', open: true }],
      ['panel:pick-fault', { panel: 'journey', fault: 'none' }],
      ['panel:pick-runtime', { panel: 'innocent-pattern', runtime: 'celery' }],
      ['pool:reset', {}],
      ['hall:reset-everything', {}],
    ] as const) {
      const ack = (await socket.timeout(10_000).emitWithAck(event, payload)) as Ack<unknown>;
      assert.deepEqual([ack.ok, ack.ok ? null : ack.error], [false, 'forbidden'], event);
    }
  } finally {
    socket.close();
  }
  // And from the page itself, over HTTP with its cookie.
  const statuses = await laptop.evaluate(async () =>
    Promise.all(['api/pool/reset', 'api/hall/reset'].map(async (path) => (await fetch(path, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' })).status)),
  );
  assert.deepEqual(statuses, [403, 403]);
  assert.deepEqual({ deck: site.hall.deck.state, pool: poolState(await poolInRedis()) }, before);
  assert.equal((await indices(phone)).h, LUA, 'nobody moved');
  assert.deepEqual(errors, []);
});

test('a closed panel refuses audience taps; opened by the presenter, it accepts them within the limits', async () => {
  await site.actions.reset({ pool: 'main' });
  site.hall.deck.setOpen('lua-release', false);
  if ((await indices(presenter)).h !== LUA) await presenterMoves(() => presenter.evaluate((h) => window.Reveal!.slide(h), LUA), [phone, laptop]);
  const phonePanel = phone.locator(LUA_PANEL);
  await phonePanel.locator('[data-role="gate"][data-open="false"]').waitFor(WAIT);
  assert.equal(await phonePanel.locator('.lp-body').evaluate((body) => (body as HTMLElement).inert), true, 'closed: the panel is not tappable');
  // Even a click that gets through (a script, an old page) is refused by the server.
  await phonePanel.locator('button', { hasText: 'Allocate' }).dispatchEvent('click');
  await phonePanel.locator('[data-role="error"]', { hasText: 'closed' }).waitFor(WAIT);
  assert.deepEqual(Object.keys((await poolInRedis()).busy), [], 'nothing allocated');

  const openedAt = Date.now();
  await presenter.locator(`${LUA_PANEL} [data-role="gate-toggle"]`).click();
  await phonePanel.locator('[data-role="gate"][data-open="true"]').waitFor(WAIT);
  assert.ok(Date.now() - openedAt < 5000);
  assert.equal(await phonePanel.locator('.lp-body').evaluate((body) => (body as HTMLElement).inert), false);

  // Burst 3 per viewer session: three taps go through, the fourth is asked to slow down.
  const allocate = phonePanel.locator('button', { hasText: 'Allocate' });
  for (let i = 1; i <= 3; i++) {
    await allocate.tap();
    await phone.waitForFunction(
      ({ panel, count }) => document.querySelectorAll(`${panel} [data-role="log"] li`).length >= count,
      { panel: LUA_PANEL, count: i },
      WAIT,
    );
  }
  assert.equal(Object.keys((await poolInRedis()).busy).length, 3, 'three allocations reached Redis');
  await allocate.tap();
  await phonePanel.locator('[data-role="error"]', { hasText: /wait a second/i }).waitFor(WAIT);
  assert.equal(Object.keys((await poolInRedis()).busy).length, 3, 'the refused tap changed nothing');
  // Everyone sees the taps, and the presenter's panel says how many are firing.
  await presenter.locator(`${LUA_PANEL} [data-role="gate-status"]`, { hasText: '1 person firing' }).waitFor(WAIT);
  await laptop.waitForFunction((panel) => document.querySelector(`${panel} [data-role="available"]`)?.children.length === 1, LUA_PANEL, WAIT);
  assert.deepEqual(errors, []);
});

test('many pages of one session share that session limit; another session is not held back', async () => {
  await site.actions.reset({ pool: 'main' });
  site.hall.deck.setOpen('lua-release', true);
  const context = await newContext('laptop');
  const tabs: Page[] = [];
  for (let i = 0; i < 3; i++) tabs.push(await openPage('laptop', `/#/${LUA}`, context));
  /** Taps Allocate in `tab` and resolves with whether the server took it. */
  const tap = async (tab: Page): Promise<'ok' | 'refused'> => {
    const panel = tab.locator(LUA_PANEL);
    await panel.locator('[data-role="gate"][data-open="true"]').waitFor(WAIT);
    const mine = () => tab.evaluate((selector) => (document.querySelector(`${selector} [data-role="log"]`)?.textContent ?? '').split('you: allocate').length - 1, LUA_PANEL);
    const before = await mine();
    await panel.locator('button', { hasText: 'Allocate' }).click();
    await tab.waitForFunction(
      ({ selector, count }) =>
        (document.querySelector(`${selector} [data-role="error"]`)?.textContent ?? '') !== '' ||
        (document.querySelector(`${selector} [data-role="log"]`)?.textContent ?? '').split('you: allocate').length - 1 > count,
      { selector: LUA_PANEL, count: before },
      WAIT,
    );
    return (await mine()) > before ? 'ok' : 'refused';
  };
  const results = [];
  for (const tab of [...tabs, tabs[0]!]) results.push(await tap(tab));
  assert.deepEqual(results, ['ok', 'ok', 'ok', 'refused'], 'burst 3 for the session, whichever of its tabs taps');
  assert.equal(Object.keys((await poolInRedis()).busy).length, 3);
  const other = await openPage('laptop', `/#/${LUA}`);
  assert.equal(await tap(other), 'ok', 'another session has its own budget');
  await context.close();
  await other.context().close();
  assert.deepEqual(errors, []);
});

test('the join slide: the QR code decodes to the join URL shown under it', async () => {
  await presenter.evaluate(() => window.Reveal!.slide(0));
  const qr = presenter.locator('[data-role="join-qr"]');
  await qr.waitFor(WAIT);
  await presenter.waitForFunction(() => (document.querySelector<HTMLImageElement>('[data-role="join-qr"]')?.naturalWidth ?? 0) > 0, null, WAIT);
  const png = PNG.sync.read(await qr.screenshot());
  const decoded = jsQR(new Uint8ClampedArray(png.data), png.width, png.height);
  assert.ok(decoded, 'the QR code scans');
  assert.equal(decoded.data, site.hall.join.url);
  assert.equal(decoded.data, `${site.url}/`, 'the address the server listens on (no PUBLIC_URL here)');
  assert.equal(await presenter.locator('[data-role="join-url"]').textContent(), site.url.replace(/^http:\/\//, ''));
  // Loopback: the slide says phones cannot reach it, the console warns.
  await presenter.locator('[data-role="join-note"]', { hasText: 'only reachable from this machine' }).waitFor(WAIT);
  await presenter.locator('[data-role="open-console"]').click();
  await presenter.locator('[data-role="console-warning"]', { hasText: 'loopback' }).waitFor(WAIT);
  await presenter.locator('[data-role="close-console"]').click();
  assert.deepEqual(errors, []);
});

test('two presenter windows: the last to act drives, the other is told and follows', async () => {
  const second = await openPage('laptop', '/', presenter.context());
  await second.locator('[data-role="hall-bar"][data-state="driving"]').waitFor(WAIT);
  await second.evaluate(() => window.Reveal!.slide(2));
  await presenter.locator('[data-role="hall-bar"][data-state="superseded"]').waitFor(WAIT);
  await presenter.waitForFunction(() => window.Reveal!.getIndices().h === 2, null, WAIT);
  await presenter.evaluate(() => window.Reveal!.slide(3));
  await presenter.locator('[data-role="hall-bar"][data-state="driving"]').waitFor(WAIT);
  await second.locator('[data-role="hall-bar"][data-state="superseded"]').waitFor(WAIT);
  await second.close();
  assert.deepEqual(errors, []);
});

test("the presenter picks a run panel's fault; a follower's menu shows it and cannot change it", async () => {
  const INNOCENT = '[data-panel="innocent-pattern"]';
  if ((await indices(presenter)).h !== 1) await presenterMoves(() => presenter.evaluate(() => window.Reveal!.slide(1)), [phone]);
  const mine = presenter.locator(`${INNOCENT} select[data-role="fault"]`);
  const theirs = phone.locator(`${INNOCENT} select[data-role="fault"]`);
  await mine.waitFor(WAIT);
  await theirs.waitFor({ state: 'attached', ...WAIT });
  assert.equal(await mine.isDisabled(), false);
  await mine.selectOption('worker-killed');
  await phone.waitForFunction((selector) => document.querySelector<HTMLSelectElement>(selector)?.value === 'worker-killed', `${INNOCENT} select[data-role="fault"]`, WAIT);
  assert.equal(await theirs.isDisabled(), true, "a follower's fault menu is the presenter's");
  assert.equal(site.hall.deck.faultOf('innocent-pattern'), 'worker-killed');
  assert.deepEqual(errors, []);
});
