/**
 * "Does Celery really do that?" in a real Chromium against the real site: the
 * presenter presses ▶ on a row and Act 1 plays on real `celery worker` processes;
 * the row and the run below it show what the server's record says. Then Act 1's
 * BullMQ/Celery switch: the presenter's pick is the hall's, a follower's switch
 * shows it and cannot change it, and the follower's run plays on Celery.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import type { Page } from 'playwright-core';
import { io } from 'socket.io-client';
import type { Ack, RunRecord } from '../../server/protocol.ts';
import { SESSION_COOKIE } from '../../server/session/sessions.ts';
import { loadDeck, newDeckPage, showSlide } from '../../tools/deckPage.ts';
import { openPresenterDeck, type PresenterDeck } from '../support/deckSite.ts';
import { untilTrue, withDeadline } from '../support/deadline.ts';
import { api, type Site } from '../support/site.ts';
import { setPanelOpen } from '../support/presenterConsole.ts';

/** The first Celery run starts Python and two workers: allow for it on a loaded machine. */
const RUN_TIMEOUT = 90_000;
const SLIDE = 'Does Celery really do that?';
const PANEL = '[data-panel="celery-claims"]';

let deck: PresenterDeck | undefined;
let site: Site | undefined;
let page: Page;
let errors: Error[] = [];

before(async () => {
  deck = await openPresenterDeck({ TASK_WORKERS: '0' });
  ({ site, page, errors } = deck);
});

after(() => deck?.close());

test('the slide lists every claim with its measured count, and a row runs Act 1 on real Celery', { timeout: RUN_TIMEOUT + 30_000 }, async () => {
  assert.ok(site);
  await showSlide(page, SLIDE);
  // One large verdict per claim; a claim's ways one press away.
  const verdicts = page.locator(`${PANEL} [data-role="verdict"]`);
  await verdicts.first().waitFor({ state: 'visible' });
  assert.equal(await verdicts.count(), 8, 'a verdict per claim');
  assert.equal(await verdicts.first().getAttribute('data-verdict'), 'yes', 'both callbacks: every way measured ran a callback twice');
  await verdicts.first().click();
  const rows = page.locator(`${PANEL} tr[data-fault]`);
  await rows.first().waitFor({ state: 'visible' });
  assert.ok((await rows.count()) >= 10, 'a row per mechanism');
  // Bug #6737 and the pubsub claim are runs too; only "called directly" is read from the source.
  for (const fault of ['result-too-large', 'chain-frozen-v1', 'chain-frozen-v2', 'link-v1', 'result-get', 'result-get-fails']) {
    assert.equal(await page.locator(`${PANEL} tr[data-fault="${fault}"] [data-role="run-claim"]`).count(), 1, `a ▶ for ${fault}`);
  }
  assert.equal(await page.locator(`${PANEL} tr.lp-claim-reading`).count(), 1);

  const row = page.locator(`${PANEL} tr[data-fault="child-killed"]`);
  await row.locator('[data-role="run-claim"]').click();
  await page.waitForFunction((selector) => document.querySelector<HTMLElement>(selector)?.dataset.live === 'finished', `${PANEL} tr[data-fault="child-killed"]`, {
    timeout: RUN_TIMEOUT,
  });
  const runId = (await page.locator(`${PANEL} [data-role="run-view"]`).getAttribute('data-run-id')) ?? '';
  const { status, body: record } = await api<RunRecord>(site, 'GET', `/api/runs/${runId}`);
  assert.equal(status, 200);
  assert.equal(record.runtime, 'celery');
  assert.equal(record.fault, 'child-killed');
  const callbacks = record.events.flatMap((e) => (e.kind === 'release-reply' ? [e.data.callback] : []));
  assert.deepEqual([...callbacks].sort(), ['link', 'link_error'], record.mechanism ?? '');
  // The row says what the server's record says, in Redis' order.
  assert.equal((await row.locator('[data-role="live"]').textContent())?.trim(), callbacks.join(' + '));
  assert.equal(record.verdict?.kind, 'sound', 'Act 1 releases with the Lua script');
  await page.screenshot({ path: '/tmp/celery-claims-1280.png' });
  await page.setViewportSize({ width: 390, height: 844 });
  await page.screenshot({ path: '/tmp/celery-claims-390.png' });
  assert.deepEqual(errors, []);
});

test('Act 1’s switch runs the same panel on Celery, with Celery’s own faults', { timeout: RUN_TIMEOUT + 30_000 }, async () => {
  assert.ok(site);
  await page.setViewportSize({ width: 1280, height: 800 });
  await showSlide(page, 'Act 1: The Innocent Pattern');
  const act1 = '[data-panel="innocent-pattern"]';
  await page.locator(`${act1} button[data-runtime="celery"]`).click();
  const faults = await page.locator(`${act1} [data-role="fault"] option`).evaluateAll((options) => options.map((o) => (o as HTMLOptionElement).value));
  assert.ok(faults.includes('on-success-raises') && !faults.includes('lock-lost'), faults.join(', '));
  await page.locator(`${act1} [data-role="fault"]`).selectOption('on-success-raises');
  await page.locator(`${act1} [data-role="run"]`).click();
  await page.waitForFunction(
    (selector) => {
      const view = document.querySelector<HTMLElement>(selector);
      return view?.dataset.phase === 'finished' && (view.textContent ?? '').includes('on-success-raises');
    },
    `${act1} [data-role="run-view"]`,
    { timeout: RUN_TIMEOUT },
  );
  const runId = (await page.locator(`${act1} [data-role="run-view"]`).getAttribute('data-run-id')) ?? '';
  const { body: record } = await api<RunRecord>(site, 'GET', `/api/runs/${runId}`);
  assert.equal(record.runtime, 'celery');
  assert.equal(record.fault, 'on-success-raises');
  assert.deepEqual(record.events.flatMap((e) => (e.kind === 'release-reply' ? [e.data.callback] : [])).sort(), ['link', 'link_error']);
  await page.screenshot({ path: '/tmp/celery-act1-1280.png' });
  assert.deepEqual(errors, []);
});

test('the presenter picked Celery on Act 1: a follower\'s switch shows it and cannot change it, and the follower\'s run plays on Celery', { timeout: RUN_TIMEOUT + 60_000 }, async () => {
  assert.ok(site && deck);
  const act1 = '[data-panel="innocent-pattern"]';
  // The previous test's clicks were the presenter's picks: they are the hall's deck state now.
  const deckState = site.hall.deck;
  await untilTrue(
    deckState,
    'changed',
    () => deckState.runtimeOf('innocent-pattern') === 'celery' && deckState.faultOf('innocent-pattern') === 'on-success-raises',
    10_000,
    "the presenter's Celery pick in the deck state",
  );
  assert.equal(site.hall.deck.state.runtimes['innocent-pattern'], 'celery');
  assert.equal(site.hall.deck.state.live, true, 'the presenter is here');
  if ((await page.evaluate(() => window.Reveal!.getIndices().h)) !== 1) await showSlide(page, 'Act 1: The Innocent Pattern');

  const followerErrors: Error[] = [];
  const follower = await newDeckPage(await deck.newContext(), followerErrors);
  await loadDeck(follower, `${site.url}/`);
  await follower.waitForFunction(() => window.Reveal!.getIndices().h === 1, null, { timeout: 15_000 });
  const theirs = follower.locator(`${act1} [data-role="runtime"][data-runtime="celery"]`);
  await theirs.waitFor({ timeout: 15_000 });
  assert.deepEqual(await theirs.locator('button').evaluateAll((buttons) => buttons.map((b) => (b as HTMLButtonElement).disabled)), [true, true], "the switch is the presenter's");
  await follower.waitForFunction((selector) => document.querySelector<HTMLSelectElement>(selector)?.value === 'on-success-raises', `${act1} [data-role="fault"]`, { timeout: 15_000 });
  assert.equal(await follower.locator(`${act1} [data-role="fault"]`).isDisabled(), true);

  // The follower's own session, over a socket: it cannot change the framework, nor run on another one.
  const session = (await follower.context().cookies()).find((cookie) => cookie.name === SESSION_COOKIE);
  assert.ok(session);
  const socket = io(site.url, { transports: ['websocket'], forceNew: true, reconnection: false, extraHeaders: { cookie: `${SESSION_COOKIE}=${session.value}` } });
  try {
    await withDeadline(new Promise<void>((resolve, reject) => socket.once('connect', () => resolve()).once('connect_error', reject)), 10_000, 'the socket to connect');
    const versionBefore = site.hall.deck.state.version;
    const refused = (await socket.timeout(10_000).emitWithAck('panel:pick-runtime', { panel: 'innocent-pattern', runtime: 'bullmq' })) as Ack<unknown>;
    assert.deepEqual([refused.ok, refused.ok ? null : refused.error], [false, 'forbidden']);
    assert.equal(site.hall.deck.runtimeOf('innocent-pattern'), 'celery', 'nothing changed');
    assert.equal(site.hall.deck.state.version, versionBefore);

    // Opened to the hall by the presenter, the follower runs it: on Celery, whatever the client says.
    await setPanelOpen(page, 'innocent-pattern', true);
    await follower.locator(`${act1} [data-role="gate"][data-open="true"]`).waitFor({ timeout: 15_000 });
    const otherFramework = (await socket.timeout(10_000).emitWithAck('run:start', { scenario: 'innocent-pattern', runtime: 'bullmq' })) as Ack<unknown>;
    assert.deepEqual([otherFramework.ok, otherFramework.ok ? null : otherFramework.error], [false, 'forbidden']);
  } finally {
    socket.close();
  }
  const startedBefore = await follower.locator(`${act1} [data-role="run-view"]`).getAttribute('data-run-id');
  await follower.locator(`${act1} [data-role="run"]`).click();
  await follower.waitForFunction(
    ({ selector, before }) => {
      const view = document.querySelector<HTMLElement>(selector);
      return view?.dataset.phase === 'finished' && view.dataset.runId !== before;
    },
    { selector: `${act1} [data-role="run-view"]`, before: startedBefore },
    { timeout: RUN_TIMEOUT },
  );
  const runId = (await follower.locator(`${act1} [data-role="run-view"]`).getAttribute('data-run-id')) ?? '';
  const { body: record } = await api<RunRecord>(site, 'GET', `/api/runs/${runId}`);
  assert.equal(record.runtime, 'celery');
  assert.equal(record.fault, 'on-success-raises');
  const queued = record.events.find((event) => event.kind === 'queued');
  assert.equal(queued?.kind === 'queued' ? queued.data.runtime : null, 'celery', 'the timeline says which framework ran it');
  assert.deepEqual(record.events.flatMap((e) => (e.kind === 'release-reply' ? [e.data.callback] : [])).sort(), ['link', 'link_error']);
  await follower.screenshot({ path: '/tmp/celery-follower-1280.png' });
  await follower.setViewportSize({ width: 390, height: 844 });
  await follower.locator(act1).scrollIntoViewIfNeeded();
  await follower.screenshot({ path: '/tmp/celery-follower-390.png' });
  assert.deepEqual(followerErrors, []);
  assert.deepEqual(errors, []);
});
