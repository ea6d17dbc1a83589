/**
 * Launches a real Chromium for end-to-end tests. Debian's `chromium` where it is
 * installed (CI installs it: Playwright cannot download its own browser here);
 * elsewhere Playwright's own browser, as on a developer's machine.
 */
import { existsSync } from 'node:fs';
import { chromium, type Browser } from 'playwright-core';

const SYSTEM_CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

export async function launchBrowser(): Promise<Browser> {
  return chromium.launch({
    headless: true,
    ...(existsSync(SYSTEM_CHROMIUM) ? { executablePath: SYSTEM_CHROMIUM } : {}),
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      // The network here is closed: without these Chromium keeps dialling out and failing.
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
}
