/**
 * The presenter's console in a presenter's window, as the presenter reaches it when
 * there is no speaker view: over the slide, on `C`. Its toggles open and close a panel
 * to the hall (the projected window itself carries no such control).
 */
import type { Page } from 'playwright-core';
import type { AudiencePanel } from '../../server/protocol.ts';

const WAIT = { timeout: 15_000 };

export async function openConsole(page: Page): Promise<void> {
  // reveal ignores keys while a form control has the focus (a fault menu just picked).
  await page.evaluate(() => (document.activeElement as HTMLElement | null)?.blur());
  await page.keyboard.press('c');
  await page.locator('[data-role="hall-console"]').waitFor(WAIT);
}

export async function closeConsole(page: Page): Promise<void> {
  await page.locator('[data-role="close-console"]').click();
  await page.locator('[data-role="hall-console"]').waitFor({ state: 'hidden', ...WAIT });
}

/** Opens (or closes) `panel` to the hall from the console, and waits until the console shows it. */
export async function setPanelOpen(page: Page, panel: AudiencePanel, open: boolean): Promise<void> {
  await openConsole(page);
  const toggle = page.locator(`[data-role="hall-console"] [data-panel-row="${panel}"] [data-role="console-toggle"]`);
  await toggle.waitFor(WAIT);
  if ((await toggle.getAttribute('aria-pressed')) !== String(open)) {
    await toggle.click();
    await page.locator(`[data-role="hall-console"] [data-panel-row="${panel}"] [data-role="console-toggle"][aria-pressed="${open}"]`).waitFor(WAIT);
  }
  await closeConsole(page);
}
