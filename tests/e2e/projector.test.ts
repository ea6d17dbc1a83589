/**
 * The deck as the back row of a room sees it, at 1280x800 (a projector's resolution)
 * in the presenter's window: on every slide, slide text at least 18 px and panel text
 * at least 12 px as rendered, nothing in a panel cut off (a box showing less than its
 * content: scrollHeight > clientHeight), no panel past its slide. The panels are
 * measured after a real run each (logs full, verdicts shown), since that is when they
 * are tallest. Screenshots of every slide at 1280x800 and 390x844 go to SCREENSHOT_DIR.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import type { Locator, Page } from 'playwright-core';
import { loadDeck, newDeckPage } from '../../tools/deckPage.ts';
import { openPresenterDeck, type PresenterDeck } from '../support/deckSite.ts';
import { measureLegibility } from '../support/legibility.ts';

const SHOTS = process.env.SCREENSHOT_DIR;
/** A run on the real workers ends within this (a killed worker's restart is the slowest). */
const RUN = { timeout: 60_000 };
const WAIT = { timeout: 15_000 };

let deck: PresenterDeck | undefined;

before(async () => {
  deck = await openPresenterDeck({ TASK_WORKERS: '2', STAGE_TTL_SECONDS: '2', REAPER_SWEEP_MS: '500' });
});

after(() => deck?.close());

/** Waits until no run of the panel is under way (its buttons are enabled again). */
async function settled(page: Page, panel: Locator): Promise<void> {
  await page.waitForFunction((element) => element.querySelectorAll('.lp-phase-queued, .lp-phase-running').length === 0, await panel.elementHandle(), RUN);
  await page.waitForTimeout(300);
}

/** Puts each panel of the current slide into its tallest state: a real run, a full log. */
async function drive(page: Page): Promise<void> {
  const present = page.locator('.reveal .slides section.present:not(.stack)');
  if ((await present.locator('.live-panel[data-panel]').count()) === 0) return;
  const name = await present.locator('.live-panel[data-panel]').first().getAttribute('data-panel', WAIT);
  if (!name) return;
  const panel = present.locator(`.live-panel[data-panel="${name}"]`);
  await panel.locator('[data-role="badge"][data-state="connected"]').waitFor(WAIT);
  const click = async (text: string | RegExp) => {
    const button = panel.locator('button', { hasText: text }).first();
    await page.waitForFunction((element) => !(element as HTMLButtonElement).disabled, await button.elementHandle(WAIT), WAIT);
    await button.click();
  };
  switch (name) {
    case 'innocent-pattern':
      await click(/^▶? ?Run$/);
      await panel.locator('[data-role="run-view"][data-phase="finished"]').waitFor(RUN);
      break;
    case 'journey':
      await click('Run all three');
      await page.waitForFunction((element) => element.querySelectorAll('[data-role="verdict"][data-phase="finished"]').length >= 3, await panel.elementHandle(), RUN);
      break;
    case 'lua-release':
      for (let i = 0; i < 4; i++) {
        await click('Allocate');
        await click('Double release');
      }
      await page.waitForFunction((element) => element.querySelectorAll('[data-role="log"] li').length >= 8, await panel.elementHandle(), RUN);
      break;
    case 'defense':
      await click('Burst of 24');
      await panel.locator('[data-role="burst-counts"]').waitFor(RUN);
      break;
    case 'edge-case-test':
      await click('Run the test');
      await panel.locator('[data-role="test-result"]:not(:empty)').waitFor(RUN);
      break;
    case 'late-duplicate':
      await click("Talk's release");
      await panel.locator('[data-role="checker-verdict"]').waitFor(RUN);
      break;
    case 'celery-claims':
      // The verdicts; the claim with the most ways, one press away, is measured after them.
      break;
    default:
      break;
  }
  await settled(page, panel);
}

function failures(report: Awaited<ReturnType<typeof measureLegibility>>): string[] {
  return [
    ...report.smallSlideText.map((text) => `slide text under 18 px: ${text}`),
    ...report.smallPanelText.map((text) => `panel text under 12 px: ${text}`),
    ...report.clipped.map((text) => `cut off: ${text}`),
    ...report.pastSlide.map((text) => `past the slide: ${text}`),
  ];
}

test('at 1280x800, every slide: text >= 18 px, panel text >= 12 px, nothing in a panel cut off, no panel past its slide', { timeout: 600_000 }, async () => {
  assert.ok(deck);
  const { page, errors } = deck;
  const total = await page.evaluate(() => window.Reveal!.getTotalSlides());
  assert.ok(total >= 15);
  const problems: string[] = [];
  let panels = 0;
  for (let index = 0; index < total; index++) {
    await page.evaluate((i) => {
      const { h, v } = window.Reveal!.getIndices(window.Reveal!.getSlides()[i]);
      window.Reveal!.slide(h, v);
    }, index);
    await page.waitForFunction((i) => window.Reveal!.getCurrentSlide() === window.Reveal!.getSlides()[i], index, WAIT);
    await page.waitForFunction(
      (i) => [...window.Reveal!.getSlides()[i]!.querySelectorAll('.live-panel')].every((panel) => panel.querySelector('.lp') !== null),
      index,
      WAIT,
    );
    panels += await page.evaluate((i) => window.Reveal!.getSlides()[i]!.querySelectorAll('.live-panel .lp').length, index);
    await drive(page);
    await page.waitForTimeout(900); // the slide transition
    const report = await measureLegibility(page, index);
    problems.push(...failures(report).map((problem) => `slide ${index} (${report.title}): ${problem}`));
    if (SHOTS) await page.screenshot({ path: `${SHOTS}/projector-${String(index).padStart(2, '0')}.png` });
    const claims = page.locator('section.present:not(.stack) [data-panel="celery-claims"] [data-role="verdict"]');
    if (await claims.count()) {
      await claims.first().click();
      await page.locator('section.present:not(.stack) [data-role="claim-detail"]').waitFor(WAIT);
      const detail = await measureLegibility(page, index);
      problems.push(...failures(detail).map((problem) => `slide ${index} (${detail.title}), a claim's ways: ${problem}`));
      if (SHOTS) await page.screenshot({ path: `${SHOTS}/projector-${String(index).padStart(2, '0')}-claim.png` });
      await page.locator('section.present:not(.stack) [data-role="all-claims"]').click();
    }
  }
  assert.deepEqual(problems, []);
  assert.equal(panels, 8, 'the eight live panels were measured');
  assert.deepEqual(errors, []);
});

test('screenshots of every slide on a phone (390x844), to look at', { skip: !SHOTS }, async () => {
  assert.ok(deck);
  const context = await deck.newContext({ viewport: { width: 390, height: 844 }, isMobile: true, hasTouch: true });
  const errors: Error[] = [];
  const page = await newDeckPage(context, errors);
  await loadDeck(page, `${deck.site.url}/`);
  const total = await page.evaluate(() => window.Reveal!.getTotalSlides());
  for (let index = 0; index < total; index++) {
    await page.evaluate((i) => {
      const { h, v } = window.Reveal!.getIndices(window.Reveal!.getSlides()[i]);
      window.Reveal!.slide(h, v);
    }, index);
    await page.waitForTimeout(600); // the page scrolls to the slide
    await page.screenshot({ path: `${SHOTS}/phone-${String(index).padStart(2, '0')}.png` });
  }
  assert.deepEqual(errors, []);
});
