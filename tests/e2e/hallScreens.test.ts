/**
 * What each screen of a live talk shows, in real browsers against the real site: the
 * projected presenter's window (the talk and nothing else), the speaker view (the
 * presenter's controls, *Upcoming* = what → shows, the deck's emoji), a phone that
 * follows (no speaker notes, a sign that it follows, an answer when it taps a closed
 * demo), and one slide number on all of them.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import type { BrowserContext, Page } from 'playwright-core';
import { loadDeck, newDeckPage, showSlide } from '../../tools/deckPage.ts';
import { startDeckSite, type DeckSite } from '../support/deckSite.ts';
import { PRESENTER_SECRET } from '../support/site.ts';

const WAIT = { timeout: 15_000 };
const PHONE = { viewport: { width: 390, height: 844 }, isMobile: true, hasTouch: true };
const LUA = 'The Lua Script Solution';
/** Where to save what each screen looked like, to look at (unset: no screenshots). */
const SHOTS = process.env.SCREENSHOT_DIR;

let deck: DeckSite | undefined;
let presenterContext: BrowserContext;
let presenter: Page;
const errors: Error[] = [];

before(async () => {
  deck = await startDeckSite();
  presenterContext = await deck.newContext();
  presenter = await newDeckPage(presenterContext, errors);
  await loadDeck(presenter, `${deck.site.url}/presenter?token=${encodeURIComponent(PRESENTER_SECRET)}`);
  await presenter.locator('[data-role="hall-bar"][data-state="driving"]').waitFor({ state: 'attached', ...WAIT });
});

after(() => deck?.close());

async function openPhone(path = '/'): Promise<Page> {
  assert.ok(deck);
  const page = await newDeckPage(await deck.newContext(PHONE), errors);
  await loadDeck(page, `${deck.site.url}${path}`);
  return page;
}

/** Every element of the hall's chrome the page shows (the presenter's console, bar, gate strips and toggles). */
function visibleHallControls(page: Page): Promise<string[]> {
  return page.evaluate(() =>
    [...document.querySelectorAll<HTMLElement>('[data-role="hall-bar"], [data-role="hall-console"], [data-role="gate"], [data-role="gate-toggle"], [data-role="open-console"]')]
      .filter((element) => {
        const box = element.getBoundingClientRect();
        return box.width > 0 && box.height > 0 && getComputedStyle(element).visibility !== 'hidden';
      })
      .map((element) => `${element.dataset.role} "${element.textContent?.trim().slice(0, 40)}"`),
  );
}

test('the projected window shows the talk and nothing else, unless the presenter asks (C)', async () => {
  for (const title of ['The Idempotency Challenge', LUA, 'Act 1: The Innocent Pattern']) {
    await showSlide(presenter, title);
    await presenter.locator('.present .live-panel .lp, .present .join-panel *').first().waitFor(WAIT);
    assert.deepEqual(await visibleHallControls(presenter), [], `${title}: no presenter controls over the talk`);
  }
  await presenter.keyboard.press('c');
  await presenter.locator('[data-role="hall-console"]').waitFor(WAIT);
  await presenter.locator('[data-role="console-driving"]', { hasText: 'drives the hall' }).waitFor(WAIT);
  await presenter.keyboard.press('c');
  await presenter.locator('[data-role="hall-console"]').waitFor({ state: 'hidden', ...WAIT });
  // reveal's help lists C for the console, and H only for what reveal does with it.
  await presenter.evaluate(() => window.Reveal!.toggleHelp(true));
  const help = await presenter.locator('.r-overlay-help-content').innerText(WAIT);
  assert.match(help, /C\s+Hall console/);
  assert.doesNotMatch(help, /H\s+Hall console/);
  await presenter.evaluate(() => window.Reveal!.toggleHelp(false));
  assert.deepEqual(errors, []);
});

test("the speaker view has the presenter's console, Upcoming shows what → shows, and the notes' emoji are the deck's images", async () => {
  await showSlide(presenter, 'The Shocking Discovery');
  const [speaker] = await Promise.all([presenterContext.waitForEvent('page', WAIT), presenter.keyboard.press('s')]);
  try {
    const docked = speaker.locator('.hall-dock [data-role="docked-console"]');
    await docked.waitFor(WAIT);
    await docked.locator('[data-role="following"]').waitFor(WAIT);
    await docked.locator('[data-panel-row="lua-release"] [data-role="console-toggle"]').waitFor(WAIT);
    // The console toggles for the hall from here.
    assert.equal(deck!.site.hall.deck.state.open.includes('lua-release'), false);
    await docked.locator('[data-panel-row="lua-release"] [data-role="console-toggle"]').click();
    await docked.locator('[data-panel-row="lua-release"] [data-role="console-toggle"][aria-pressed="true"]').waitFor(WAIT);
    assert.equal(deck!.site.hall.deck.state.open.includes('lua-release'), true);

    // Upcoming: the slide → goes to (the next column), not the one below "The Shocking Discovery".
    const upcoming = speaker.frameLocator('#upcoming-slide iframe');
    await speaker.waitForFunction(
      () => {
        const frame = document.querySelector<HTMLIFrameElement>('#upcoming-slide iframe');
        const reveal = (frame?.contentWindow as (Window & { Reveal?: { getCurrentSlide(): Element | undefined } }) | null)?.Reveal;
        return reveal?.getCurrentSlide()?.querySelector('h2')?.textContent?.trim() === 'The Five Stages of Framework Grief';
      },
      null,
      WAIT,
    );
    assert.ok(await upcoming.locator('section.present h2').count());

    // The notes of the first slide start with ⏱: drawn with the deck's image, not an emoji font.
    await showSlide(presenter, 'The Idempotency Challenge');
    const stopwatch = speaker.locator('.speaker-controls-notes .value .emoji', { hasText: '⏱' }).first();
    await stopwatch.waitFor(WAIT);
    const image = await stopwatch.evaluate((span) => (span as HTMLElement).style.backgroundImage);
    assert.match(image, /url\(/);
    const drawn = await stopwatch.evaluate((span) => {
      const box = span.getBoundingClientRect();
      return { width: box.width, color: getComputedStyle(span).color };
    });
    assert.ok(drawn.width > 10, 'the emoji takes its place');
    assert.equal(drawn.color, 'rgba(0, 0, 0, 0)', 'the character itself is transparent: emoji.css is in the speaker view');
    if (SHOTS) await speaker.screenshot({ path: `${SHOTS}/speaker-view.png` });
  } finally {
    await speaker.close();
  }
  deck!.site.hall.deck.setOpen('lua-release', false);
  assert.deepEqual(errors, []);
});

test('one slide number: the address, reveal\'s counter, the console and a phone agree', async () => {
  const phone = await openPhone();
  await phone.locator('[data-role="hall-bar"][data-state="following"]').waitFor(WAIT);
  await showSlide(presenter, LUA);
  await phone.waitForFunction((title) => window.Reveal!.getCurrentSlide()?.querySelector('h2')?.textContent?.trim() === title, LUA, WAIT);
  const column = await presenter.evaluate(() => window.Reveal!.getIndices().h);
  const number = String(column + 1);
  assert.equal(new URL(presenter.url()).hash, `#/${number}`, 'the address');
  assert.equal((await presenter.locator('.reveal .slide-number').innerText()).replace(/\s/g, ''), number, "reveal's counter");
  await presenter.keyboard.press('c');
  await presenter.locator('[data-role="following"]', { hasText: `on slide ${number}` }).waitFor(WAIT);
  await presenter.keyboard.press('c');
  // The phone steps away (one slide back): its bar names the live slide by the same number. After
  // the phone layout's settling time (demo/hall/follow.ts: a move just after following is its scroll).
  await phone.waitForTimeout(1000);
  await phone.evaluate(() => window.Reveal!.prev());
  await phone.locator('[data-role="hall-bar"][data-state="away"]', { hasText: `Live is on slide ${number}` }).waitFor(WAIT);
  // A slide below another: "3/2" in the address and on the counter.
  await showSlide(presenter, 'Does Celery really do that?');
  const below = await presenter.evaluate(() => window.Reveal!.getIndices());
  const belowName = `${below.h + 1}/${(below.v ?? 0) + 1}`;
  assert.equal((await presenter.locator('.reveal .slide-number').innerText()).replace(/\s/g, ''), belowName);
  await phone.locator('[data-role="hall-bar"][data-state="away"]', { hasText: `Live is on slide ${belowName}` }).waitFor(WAIT);
  await phone.context().close();
  assert.deepEqual(errors, []);
});

test('a phone following a live talk: no speaker notes, a sign that it follows, and a tap on a closed demo answers at once', async () => {
  deck!.site.hall.deck.setOpen('lua-release', false);
  await showSlide(presenter, LUA);
  const phone = await openPhone();
  await phone.waitForFunction((title) => window.Reveal!.getCurrentSlide()?.querySelector('h2')?.textContent?.trim() === title, LUA, WAIT);
  await phone.locator('html.talk-live').waitFor({ state: 'attached', ...WAIT });
  const seen = await phone.evaluate(() => {
    const shownNotes = [...document.querySelectorAll<HTMLElement>('.reader-notes-text')].filter((notes) => notes.getBoundingClientRect().height > 0).length;
    const sign = document.querySelector<HTMLElement>('[data-role="hall-bar"]')!;
    const box = sign.getBoundingClientRect();
    return { shownNotes, sign: sign.innerText, inView: box.width > 0 && box.top >= 0 && box.bottom <= window.innerHeight && box.right <= window.innerWidth };
  });
  assert.equal(seen.shownNotes, 0, 'the speaker notes are closed');
  assert.match(seen.sign, /following the presenter/);
  assert.ok(seen.inView, 'the sign is on screen');
  // Scrolled elsewhere, the sign is still there.
  await phone.mouse.wheel(0, 1500);
  await phone.waitForTimeout(300);
  assert.equal(await phone.locator('[data-role="hall-bar"]').isVisible(), true);

  // The Lua panel is closed to the hall: a tap on it answers at once, saying the presenter opens it.
  await phone.evaluate((title) => {
    const slide = window.Reveal!.getSlides().find((candidate) => candidate.querySelector('h2')?.textContent?.trim() === title)!;
    slide.querySelector('.live-panel')!.scrollIntoView();
  }, LUA);
  const body = phone.locator('[data-panel="lua-release"] .lp-body');
  await phone.locator('[data-panel="lua-release"] [data-role="gate"][data-open="false"]').waitFor(WAIT);
  const box = (await body.boundingBox())!;
  await phone.touchscreen.tap(box.x + box.width / 2, box.y + Math.min(box.height / 2, 120));
  const answer = phone.locator('[data-role="closed-answer"]');
  await answer.waitFor({ timeout: 1000 });
  assert.match(await answer.innerText(), /presenter opens/);
  if (SHOTS) await phone.screenshot({ path: `${SHOTS}/phone-closed-demo-tapped.png` });

  // The reader can still open the notes: written for a reader (no cues for the speaker).
  await phone.locator('.present .reader-notes-toggle').click();
  const notes = await phone.locator('.present .reader-notes-text').innerText();
  assert.ok(notes.length > 40, 'the notes are there');
  assert.doesNotMatch(notes, /Say:|Click|Before you start|⏱/);
  await phone.context().close();
  assert.deepEqual(errors, []);
});
