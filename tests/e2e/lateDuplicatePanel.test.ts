/**
 * The late-duplicate panel (beyond the talk) in a real Chromium against the real
 * site and a private Redis: the talk's release shows the conflict and the
 * checker's broken verdict; the fenced release shows stale_release and a sound
 * one. What the panel says is cross-checked with the server's record of the run.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import type { Page } from 'playwright-core';
import type { RunRecord } from '../../server/protocol.ts';
import { showSlide } from '../../tools/deckPage.ts';
import { openPresenterDeck, type PresenterDeck } from '../support/deckSite.ts';
import { api, type Site } from '../support/site.ts';

const RUN_TIMEOUT = 30_000;
const PANEL = '[data-panel="late-duplicate"]';

let deck: PresenterDeck | undefined;
let site: Site | undefined;
let page: Page;
let errors: Error[] = [];

before(async () => {
  deck = await openPresenterDeck();
  ({ site, page, errors } = deck);
  await showSlide(page, 'Beyond the Talk: The Late Duplicate');
});

after(() => deck?.close());

/** Presses `role`'s button and waits for the checker's verdict of a new run; returns the run's id. */
async function play(role: 'run-lua' | 'run-fenced'): Promise<{ verdict: string; runId: string }> {
  const before = await page.locator(`${PANEL} [data-role="run-view"]`).getAttribute('data-run-id');
  const button = page.locator(`${PANEL} [data-role="${role}"]`);
  await button.waitFor({ timeout: RUN_TIMEOUT });
  await page.waitForFunction((selector) => !(document.querySelector(selector) as HTMLButtonElement | null)?.disabled, `${PANEL} [data-role="${role}"]`, { timeout: RUN_TIMEOUT });
  await button.click();
  await page.waitForFunction(
    ({ panel, previous }) => {
      const view = document.querySelector(`${panel} [data-role="run-view"]`) as HTMLElement | null;
      return view?.dataset.phase === 'finished' && view.dataset.runId !== previous && document.querySelector(`${panel} [data-role="checker-verdict"]`) !== null;
    },
    { panel: PANEL, previous: before },
    { timeout: RUN_TIMEOUT },
  );
  const runId = (await page.locator(`${PANEL} [data-role="run-view"]`).getAttribute('data-run-id'))!;
  return { verdict: (await page.locator(`${PANEL} [data-role="checker-verdict"]`).textContent()) ?? '', runId };
}

test("the talk's release: the panel shows the checker's broken verdict, naming the late release, as the server recorded it", async () => {
  const { verdict, runId } = await play('run-lua');
  assert.match(verdict, /^✗ eval-A-\w+'s release \(link_error, lua\) made executor-1 available while eval-B-\w+ still runs on it/);
  assert.equal(await page.locator(`${PANEL} [data-role="history-check"]`).getAttribute('data-state'), 'broken');
  const trail = await page.locator(`${PANEL} [data-role="checker-trail"] li`).allTextContents();
  assert.match(trail.at(-1)!, /release executor-1 by eval-A-\w+ \(link_error, lua\)/);
  const record = (await api<RunRecord>(site!, 'GET', `/api/runs/${runId}`)).body;
  const check = record.events.find((e) => e.kind === 'history-check');
  assert.ok(check?.kind === 'history-check' && verdict.includes(check.data.first!.message));
  assert.equal(record.release, 'lua');
  assert.deepEqual(errors, []);
});

test('the fenced release: stale_release on the timeline, and a sound verdict', async () => {
  const { verdict, runId } = await play('run-fenced');
  assert.match(verdict, /^✓ Sound: the invariant held after each of \d+ operations/);
  assert.equal(await page.locator(`${PANEL} [data-role="history-check"]`).getAttribute('data-state'), 'sound');
  const record = (await api<RunRecord>(site!, 'GET', `/api/runs/${runId}`)).body;
  assert.equal(record.release, 'fenced');
  assert.ok(record.events.some((e) => e.kind === 'pool-release' && e.data.reply.status === 'stale_release'));
  assert.equal(record.verdict?.sound, true);
  assert.deepEqual(errors, []);
});
