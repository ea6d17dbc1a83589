/**
 * The four run panels (Act 1, the Journey, Defense in Depth, the edge-case
 * test) in a real Chromium against the real site: the built deck, socket.io,
 * BullMQ with two worker processes, real faults and a private Redis. What each
 * panel shows is cross-checked with the server's own record of the run
 * (GET /api/runs/:id), because a panel must show the server's run, not a guess.
 *
 * One browser, one page (two cores): every panel on the page is live from the
 * start, whatever slide is shown. Waits are for what the page shows, never for
 * a guessed time: a run takes 1-3 s, up to ~10 s on a loaded machine.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import type { BrowserContext, Page } from 'playwright-core';
import type { RunRecord, RunSummary } from '../../server/protocol.ts';
import { showSlide } from '../../tools/deckPage.ts';
import { openPresenterDeck, type PresenterDeck } from '../support/deckSite.ts';
import { api, newViewerSession, PRESENTER_SECRET, type Site } from '../support/site.ts';
import { withDeadline } from '../support/deadline.ts';

const PRESENTER = { authorization: `Bearer ${PRESENTER_SECRET}` };

const RUN_TIMEOUT = 30_000;

const SLIDES = {
  innocent: 'Act 1: The Innocent Pattern',
  journey: 'The Journey to Idempotency',
  defense: 'Defense in Depth',
  edge: 'Testing the Edge Cases',
} as const;

const INNOCENT = '[data-panel="innocent-pattern"]';
const JOURNEY = '[data-panel="journey"]';
const DEFENSE = '[data-panel="defense"]';
const EDGE = '[data-panel="edge-case-test"]';

let deck: PresenterDeck | undefined;
let site: Site | undefined;
let context: BrowserContext | undefined;
let page: Page;
let errors: Error[] = [];

before(async () => {
  deck = await openPresenterDeck({ TASK_WORKERS: '2', STAGE_TTL_SECONDS: '2', REAPER_SWEEP_MS: '500' });
  ({ site, context, page, errors } = deck);
});

after(() => deck?.close());

async function screenshot(name: string): Promise<void> {
  await page.screenshot({ path: `/tmp/runpanel-${name}.png` });
}

/** Shows every panel's slide in turn, so every panel has loaded and started (they load when their slide is near). */
async function visitPanelSlides(): Promise<void> {
  for (const [title, panel] of [
    [SLIDES.innocent, INNOCENT],
    [SLIDES.journey, JOURNEY],
    [SLIDES.defense, DEFENSE],
    [SLIDES.edge, EDGE],
  ] as const) {
    await showSlide(page, title);
    await page.locator(`${panel} > *`).first().waitFor({ state: 'attached' });
  }
}

async function serverRun(id: string): Promise<RunRecord> {
  assert.ok(site);
  const { status, body } = await api<RunRecord>(site, 'GET', `/api/runs/${id}`);
  assert.equal(status, 200, `GET /api/runs/${id}`);
  return body;
}

/** Waits until `selector` shows a finished run other than `previous`; returns its id. */
async function finishedRun(selector: string, previous: string | null = null): Promise<string> {
  await page.waitForFunction(
    ({ selector, previous }) => {
      const element = document.querySelector<HTMLElement>(selector);
      return element?.dataset.phase === 'finished' && element.dataset.runId !== undefined && element.dataset.runId !== previous;
    },
    { selector, previous },
    { timeout: RUN_TIMEOUT },
  );
  return (await page.locator(selector).getAttribute('data-run-id')) ?? '';
}

function texts(selector: string): Promise<string[]> {
  return page.locator(selector).evaluateAll((elements) => elements.map((element) => element.textContent?.trim() ?? ''));
}

test('Act 1: both callbacks fire for result-unstorable, on two lanes, with the mechanism in words', async () => {
  await showSlide(page, SLIDES.innocent);
  await page.locator(`${INNOCENT} [data-role="badge"][data-state="connected"]`).waitFor();
  const run = page.locator(`${INNOCENT} [data-role="run-view"]`);
  const button = page.locator(`${INNOCENT} button[data-role="run"]`);
  await page.locator(`${INNOCENT} select[data-role="fault"]`).selectOption('result-unstorable');
  await button.waitFor();
  await page.waitForFunction((panel) => document.querySelector<HTMLButtonElement>(`${panel} button[data-role="run"]`)?.disabled === false, INNOCENT);
  const before = (await run.getAttribute('data-run-id')) ?? null;
  await button.click();
  const runId = await finishedRun(`${INNOCENT} [data-role="run-view"]`, before);
  const record = await serverRun(runId);
  assert.equal(record.scenario, 'innocent-pattern');
  assert.equal(record.fault, 'result-unstorable');

  // The lanes: link ran as a cleanup job, link_error in the worker; Redis replied to both.
  const lanes = ((await page.locator(`${INNOCENT} [data-role="timeline"]`).getAttribute('data-lanes')) ?? '').split(' ');
  for (const lane of ['server', 'cleanup-job', 'redis']) assert.ok(lanes.includes(lane), `lane ${lane} in ${lanes.join(',')}`);
  assert.ok(lanes.some((lane) => /^worker-\d+$/.test(lane)), 'a worker lane');
  const linkLane = await page.locator(`${INNOCENT} .lp-tl-mark[data-callback="link"]`).first().evaluate((mark) => mark.closest<HTMLElement>('[data-lane]')?.dataset.lane);
  const errorLane = await page.locator(`${INNOCENT} .lp-tl-mark[data-callback="link_error"]`).first().evaluate((mark) => mark.closest<HTMLElement>('[data-lane]')?.dataset.lane);
  assert.equal(linkLane, 'cleanup-job', 'link is queued as a job of its own');
  assert.match(errorLane ?? '', /^worker-\d+$/, 'link_error is called in the worker');
  const serverReplies = record.events.filter((e) => e.kind === 'release-reply').map((e) => (e.data as { status: string }).status);
  assert.deepEqual(
    await page.locator(`${INNOCENT} .lp-tl-mark[data-kind="release-reply"]`).evaluateAll((marks) => marks.map((mark) => mark.getAttribute('data-status'))),
    serverReplies,
  );
  // Which callback reaches Redis first is a real race (link runs on another worker); either way one puts it back.
  assert.deepEqual([...serverReplies].sort(), ['already_in_pool', 'released']);

  // The callbacks and replies, in words, and the server's verdict and mechanism.
  const steps = await page
    .locator(`${INNOCENT} [data-role="callbacks"] .lp-step`)
    .evaluateAll((elements) => elements.map((step) => `${step.getAttribute('data-callback')}:${step.getAttribute('data-status')}`));
  assert.deepEqual(steps.map((step) => step.split(':')[0]).sort(), ['link', 'link_error']);
  assert.deepEqual(steps.map((step) => step.split(':')[1]).sort(), ['already_in_pool', 'released']);
  assert.match((await page.locator(`${INNOCENT} [data-role="callbacks-ran"]`).textContent()) ?? '', /link \+ link_error/);
  // The server's summary, without the word the head beside it already says ("✓ Sound", not "✓ Sound Sound: …").
  assert.equal(await page.locator(`${INNOCENT} [data-role="verdict"] .lp-verdict-summary`).textContent(), record.verdict?.summary.replace(/^(Sound|Broken): /, ''));
  assert.doesNotMatch((await page.locator(`${INNOCENT} [data-role="verdict"]`).innerText()).replace(/\s+/g, ' '), /\b(Sound|Broken)\b.*\b\1\b/);
  assert.equal(await page.locator(`${INNOCENT} [data-role="verdict"]`).getAttribute('data-kind'), 'sound');
  assert.ok(record.mechanism && record.mechanism.length > 20);
  assert.equal(await page.locator(`${INNOCENT} [data-role="mechanism"]`).textContent(), `What fired: ${record.mechanism}`);
  assert.equal(await button.isEnabled(), true, 'the button is back once the run is over');
  await screenshot('innocent-pattern');
});

test('the Journey: attempt 1 leaks, attempt 2 duplicates and conflicts, attempt 3 holds, as the server judged', async () => {
  await showSlide(page, SLIDES.journey);
  const column = (scenario: string) => `${JOURNEY} .lp-col[data-scenario="${scenario}"]`;
  const previous = await Promise.all(['attempt-1', 'attempt-2', 'attempt-3'].map((s) => page.locator(column(s)).getAttribute('data-run-id')));
  assert.equal(await page.locator(`${JOURNEY} select[data-role="fault"]`).inputValue(), 'worker-killed', 'the fault defaults to a killed worker');
  const button = page.locator(`${JOURNEY} button[data-role="run-all"]`);
  await page.waitForFunction((panel) => document.querySelector<HTMLButtonElement>(`${panel} button[data-role="run-all"]`)?.disabled === false, JOURNEY);
  await button.click();

  // Queued server-side, played one after another: while one runs, a later one waits.
  await page.waitForFunction(
    (panel) => {
      const phases = [...document.querySelectorAll<HTMLElement>(`${panel} .lp-col`)].map((col) => col.dataset.phase);
      return phases.includes('running') || phases.includes('queued');
    },
    JOURNEY,
  );
  assert.equal(await button.isDisabled(), true, 'no second click while the three play');
  await screenshot('journey-running');

  const ids: Record<string, string> = {};
  for (const [index, scenario] of ['attempt-1', 'attempt-2', 'attempt-3'].entries()) {
    ids[scenario] = await finishedRun(column(scenario), previous[index] ?? null);
  }

  for (const scenario of ['attempt-1', 'attempt-2', 'attempt-3']) {
    const record = await serverRun(ids[scenario]!);
    assert.equal(record.fault, 'worker-killed');
    const verdict = page.locator(`${column(scenario)} [data-role="verdict"]`);
    // The panel shows the server's verdict: sound or not, its summary, every problem.
    assert.equal(await verdict.getAttribute('data-sound'), String(record.verdict?.sound));
    assert.equal(await verdict.locator('.lp-verdict-summary').textContent(), record.verdict?.summary.replace(/^(Sound|Broken): /, ''));
    assert.deepEqual(await texts(`${column(scenario)} [data-role="verdict"] .lp-problems li`), record.verdict?.problems ?? []);
    const replies = record.events.filter((e) => e.kind === 'release-reply').map((e) => (e.data as { status: string }).status);
    assert.deepEqual(await page.locator(`${column(scenario)} [data-role="callbacks"] .lp-step[data-status]`).evaluateAll((s) => s.map((x) => x.getAttribute('data-status'))), replies);
  }

  // Attempt 1: link_error only: the successful eval never releases; the executor leaks.
  const one = column('attempt-1');
  assert.equal(await page.locator(`${one} [data-role="verdict"]`).getAttribute('data-kind'), 'leak');
  assert.match((await page.locator(`${one} [data-role="verdict"]`).textContent()) ?? '', /✗ Leak.*Lost executors on success.*leaked/s);

  // Attempt 2: the naive release pushes twice; two evals get one executor.
  const two = column('attempt-2');
  assert.equal(await page.locator(`${two} [data-role="verdict"]`).getAttribute('data-kind'), 'duplicate');
  const twoText = (await page.locator(`${two} [data-role="verdict"]`).textContent()) ?? '';
  assert.match(twoText, /✗ Duplicate.*Double releases causing chaos/s);
  assert.match(twoText, /in the available list 2 times/);
  assert.match(twoText, /handed to eval-\S+ and eval-\S+ at once/);
  await page.locator(`${two} [data-role="callbacks"] .lp-step[data-tone="duplicate"]`).waitFor();
  await page.locator(`${two} [data-role="callbacks"] [data-kind="conflict"]`).waitFor();
  await page.locator(`${two} .lp-tl-mark[data-kind="conflict"]`).waitFor();

  // Attempt 3: the Lua release answers already_in_pool; the pool holds.
  const three = column('attempt-3');
  assert.equal(await page.locator(`${three} [data-role="verdict"]`).getAttribute('data-kind'), 'sound');
  assert.match((await page.locator(`${three} [data-role="verdict"]`).textContent()) ?? '', /✓ Sound.*Safe under all conditions/s);
  assert.deepEqual(await page.locator(`${three} [data-role="callbacks"] .lp-step[data-status]`).evaluateAll((s) => s.map((x) => x.getAttribute('data-tone'))), [
    'released',
    'already_in_pool',
  ]);
  assert.equal(await page.locator(`${three} [data-role="callbacks"] [data-kind="conflict"]`).count(), 0);

  // The latest runs the server holds are the ones shown.
  const latest = new Map((await site!.runs.latestRuns()).map((run) => [run.scenario, run.id]));
  for (const scenario of ['attempt-1', 'attempt-2', 'attempt-3'] as const) assert.equal(ids[scenario], latest.get(scenario));
  await page.waitForFunction((panel) => document.querySelector<HTMLButtonElement>(`${panel} button[data-role="run-all"]`)?.disabled === false, JOURNEY);
  await screenshot('journey');

  // Details: one attempt whole, then back to the three.
  await page.locator(`${two} button[data-role="details"]`).click();
  await page.locator(`${JOURNEY} [data-role="detail"] [data-role="run-view"][data-phase="finished"]`).waitFor();
  assert.equal(await page.locator(`${JOURNEY} [data-role="detail"] [data-role="run-view"]`).getAttribute('data-run-id'), ids['attempt-2']);
  await page.locator(`${JOURNEY} [data-role="detail"] .lp-tl-mark[data-tone="duplicate"]`).waitFor();
  await screenshot('journey-detail');
  await page.locator(`${JOURNEY} button[data-role="back"]`).click();
  await page.locator(`${JOURNEY} [data-role="columns"]`).waitFor();
});

test('Defense in depth: the TTL brings a lost executor back, warnings are logged and counted, a burst never doubles', async () => {
  assert.ok(site);
  await showSlide(page, SLIDES.defense);
  await page.locator(`${DEFENSE} [data-role="badge"][data-state="connected"]`).waitFor();

  // Layer 2: kill a worker before any callback; the busy marker's TTL counts down, then the reaper returns it.
  await page.waitForFunction((panel) => document.querySelector<HTMLButtonElement>(`${panel} button[data-role="run-ttl"]`)?.disabled === false, DEFENSE);
  await page.locator(`${DEFENSE} button[data-role="run-ttl"]`).click();
  const busy = page.locator(`${DEFENSE} .lp-ttl-chip[data-state="busy"]`);
  await busy.waitFor({ timeout: RUN_TIMEOUT });
  const executor = (await busy.getAttribute('data-executor')) ?? '';
  assert.match((await busy.locator('[data-role="ttl"]').textContent()) ?? '', /^TTL (\d\.\d s|0: expiring)$/);
  await screenshot('defense-ttl');
  await page.locator(`${DEFENSE} .lp-ttl-chip[data-state="reclaimed"][data-executor="${executor}"]`).waitFor({ timeout: RUN_TIMEOUT });
  await page.locator(`${DEFENSE} [data-role="ttl-steps"] [data-kind="reclaimed"]`).waitFor({ timeout: RUN_TIMEOUT });
  await page.locator(`${DEFENSE} [data-role="ttl-outcome"]`, { hasText: 'back in the pool without any callback' }).waitFor({ timeout: RUN_TIMEOUT });
  const ttlRun = (await site.runs.latestRuns()).find((run) => run.scenario === 'ttl-safety-net');
  assert.ok(ttlRun?.events.some((event) => event.kind === 'reclaimed'));
  assert.ok(!ttlRun?.events.some((event) => event.kind === 'release-reply'), 'no callback released it');

  // Layer 3: a double release on the Lua slide's pool reaches this panel's log, and the counter follows /metrics.
  const allocation = await site.actions.allocate({ evalId: 'eval-defense', pool: 'main' });
  await site.actions.doubleRelease({ executor: allocation.executor, pool: 'main' });
  await page.locator(`${DEFENSE} [data-role="warnings"] .lp-log-warning[data-pool="main"]`, { hasText: `Double release detected: ${allocation.executor}` }).waitFor();
  const metrics = await (await fetch(`${site.url}/metrics`, { headers: PRESENTER })).text();
  const total = [...metrics.matchAll(/^idem_double_releases_total\{[^}]*\} (\d+)/gm)].reduce((sum, match) => sum + Number(match[1]), 0);
  assert.ok(total >= 1);
  await page.waitForFunction(
    ({ panel, total }) => document.querySelector(`${panel} [data-role="double-release-total"]`)?.textContent === String(total),
    { panel: DEFENSE, total },
  );

  // Layer 4: 24 asked at once, 4 granted, 4 distinct executors, counted from the run's events.
  await page.waitForFunction((panel) => document.querySelector<HTMLButtonElement>(`${panel} button[data-role="run-burst"]`)?.disabled === false, DEFENSE);
  await page.locator(`${DEFENSE} button[data-role="run-burst"]`).click();
  await page.locator(`${DEFENSE} [data-role="burst"] [data-role="verdict"]`).waitFor({ timeout: RUN_TIMEOUT });
  const burst = (await site.runs.latestRuns()).find((run) => run.scenario === 'atomic-allocation');
  assert.ok(burst);
  const granted = burst.events.filter((e) => e.kind === 'allocate' && (e.data as { executor: string | null }).executor);
  assert.equal(
    await page.locator(`${DEFENSE} [data-role="burst-counts"]`).textContent(),
    `${burst.events.filter((e) => e.kind === 'allocate').length} asked, ${granted.length} granted, ${new Set(granted.map((e) => (e.data as { executor: string }).executor)).size} distinct executors`,
  );
  assert.equal(await page.locator(`${DEFENSE} [data-role="burst-counts"]`).textContent(), '24 asked, 4 granted, 4 distinct executors');
  await screenshot('defense');
});

test("the talk's test runs live: output as it comes, passed, and the captured warning", async () => {
  await showSlide(page, SLIDES.edge);
  await page.locator(`${EDGE} [data-role="badge"][data-state="connected"]`).waitFor();
  await page.waitForFunction((panel) => document.querySelector<HTMLButtonElement>(`${panel} button[data-role="run"]`)?.disabled === false, EDGE);
  await page.locator(`${EDGE} button[data-role="run"]`).click();
  await page.locator(`${EDGE} [data-role="test-result"][data-state="passed"]`).waitFor({ timeout: RUN_TIMEOUT * 2 });
  assert.match((await page.locator(`${EDGE} [data-role="test-result"]`).textContent()) ?? '', /PASSED.*test_double_callback_resilience passed/s);
  await page.locator(`${EDGE} [data-role="test-output"] li`, { hasText: /^ok 1 - test_double_callback_resilience$/ }).waitFor();
  await page.locator(`${EDGE} [data-role="captured-log"] mark`, { hasText: 'Double release detected' }).waitFor();
  const record = (await site!.runs.latestRuns()).find((run) => run.scenario === 'edge-case-test');
  assert.ok(record);
  assert.equal(await page.locator(`${EDGE} [data-role="test-output"] li:not(.lp-term-note)`).count(), record.events.filter((e) => e.kind === 'test-output').length);
  assert.deepEqual(
    await texts(`${EDGE} [data-role="captured-log"] .lp-captured-line`),
    record.events.filter((e) => e.kind === 'captured-log').map((e) => e.text),
  );
  await screenshot('edge-case-test');
});

test('a late joiner sees the latest run of each panel at once', async () => {
  assert.ok(site);
  await page.reload();
  await page.waitForFunction(() => window.Reveal?.isReady() === true);
  const latest = new Map((await site.runs.latestRuns()).map((run) => [run.scenario, run]));
  // A panel's code loads when its slide comes near: pass by each panel's slide on the way.
  await visitPanelSlides();
  // The slides are not on screen: wait for the panels' content, not for it to be visible.
  const attached = { state: 'attached' } as const;
  await page.locator(`${INNOCENT} [data-role="run-view"][data-phase="finished"]`).waitFor(attached);
  assert.equal(await page.locator(`${INNOCENT} [data-role="run-view"]`).getAttribute('data-run-id'), latest.get('innocent-pattern')?.id);
  for (const scenario of ['attempt-1', 'attempt-2', 'attempt-3'] as const) {
    assert.equal(await page.locator(`${JOURNEY} .lp-col[data-scenario="${scenario}"]`).getAttribute('data-run-id'), latest.get(scenario)?.id);
  }
  await page.locator(`${EDGE} [data-role="test-result"][data-state="passed"]`).waitFor(attached);
  await page.locator(`${DEFENSE} [data-role="burst-counts"]`, { hasText: '24 asked, 4 granted, 4 distinct executors' }).waitFor(attached);
});

test('errors in plain words: offline, the buttons are disabled; a full stage says so', async () => {
  assert.ok(site && context);
  await visitPanelSlides();
  await showSlide(page, SLIDES.innocent);
  const button = page.locator(`${INNOCENT} button[data-role="run"]`);
  await page.waitForFunction((panel) => document.querySelector<HTMLButtonElement>(`${panel} button[data-role="run"]`)?.disabled === false, INNOCENT);

  await context.setOffline(true);
  await page.locator(`${INNOCENT} [data-role="badge"]:is([data-state="offline"], [data-state="reconnecting"])`).waitFor();
  for (const [panel, role] of [
    [INNOCENT, 'run'],
    [JOURNEY, 'run-all'],
    [DEFENSE, 'run-ttl'],
    [DEFENSE, 'run-burst'],
    [EDGE, 'run'],
  ] as const) {
    await page.waitForFunction(({ panel, role }) => document.querySelector<HTMLButtonElement>(`${panel} button[data-role="${role}"]`)?.disabled === true, { panel, role });
  }
  await context.setOffline(false);
  await page.locator(`${INNOCENT} [data-role="badge"][data-state="connected"]`).waitFor();
  await page.waitForFunction((panel) => document.querySelector<HTMLButtonElement>(`${panel} button[data-role="run"]`)?.disabled === false, INNOCENT);

  // Fill the audience's queue from elsewhere: one run playing, five waiting, each from a viewer session of its
  // own. Last in this file: the site's close cancels them, rather than the test waiting for six runs to play out.
  site.hall.deck.setOpen('journey', true);
  for (let i = 0; i < 6; i++) {
    const cookie = await newViewerSession(site);
    const started: { status: number; body: RunSummary } = await api<RunSummary>(site, 'POST', '/api/scenarios/attempt-3/runs', {}, { cookie });
    assert.equal(started.status, 202);
  }
  const busy = await api<{ error: string }>(site, 'POST', '/api/scenarios/attempt-3/runs', {}, { cookie: await newViewerSession(site) });
  assert.deepEqual([busy.status, busy.body.error], [429, 'stage_busy'], 'a viewer is told the stage is busy');
  // The presenter never is: its run goes ahead of the audience's.
  const before = (await site.runs.latestRuns()).find((run) => run.scenario === 'innocent-pattern')?.id;
  await button.click();
  await withDeadline((async () => {
    while ((await site.runs.latestRuns()).find((run) => run.scenario === 'innocent-pattern')?.id === before) await new Promise((resolve) => setTimeout(resolve, 100));
  })(), 15_000, "the presenter's run to be queued");
  assert.equal(await page.locator(`${INNOCENT} [data-role="error"]`, { hasText: 'The stage is busy' }).count(), 0);
  assert.deepEqual(errors, []);
});
