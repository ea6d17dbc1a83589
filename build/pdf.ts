/**
 * `npm run pdf`: the deck as a PDF, one page per slide, printed by the Chromium
 * the tests use (Debian's /usr/bin/chromium, else Playwright's own). The built
 * deck is served as a static host would (`vite preview`: no server behind it),
 * so every panel shows the last frame of its recording of a real run: executor
 * names, Redis' replies, verdicts. Never a placeholder.
 *
 *   npm run pdf                      # writes idempotency-challenge.pdf
 *   npm run pdf -- out/talk.pdf      # or where you say
 */
import { spawnSync } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import type { Browser } from 'playwright-core';
import { preview } from 'vite';
import { launchBrowser } from '../tools/browser.ts';

const ROOT = fileURLToPath(new URL('..', import.meta.url));

/** How long the printed deck may take to lay out and its panels to show their last frame. */
const READY_MS = 60_000;

/** Prints the deck at `deckUrl` (its `?print-pdf` view) with `browser`; returns the PDF and its slide count. */
export async function printDeck(browser: Browser, deckUrl: string): Promise<{ pdf: Buffer; slides: number; panels: number }> {
  const page = await browser.newPage();
  try {
    await page.goto(`${deckUrl}?print-pdf`);
    await page.waitForFunction(() => window.Reveal?.isReady() === true && document.querySelectorAll('.pdf-page').length > 0, undefined, { timeout: READY_MS });
    // Every panel at its last real state: a replay at its end, or a live panel that heard from the server.
    // A replay restarted (a new plan) hides its bar first: a hidden bar's "ended" is the old replay's.
    await page.waitForFunction(
      () =>
        // The live panels, not the opening slide's join block (a QR code has no last frame).
        [...document.querySelectorAll<HTMLElement>('.live-panel[data-panel]')].every(
          (panel) => panel.querySelector('[data-role="replay"][data-state="ended"]:not([hidden])') !== null || panel.querySelector('.lp[data-source="live"]') !== null,
        ),
      undefined,
      { timeout: READY_MS },
    );
    const counts = await page.evaluate(() => ({ slides: document.querySelectorAll('.pdf-page').length, panels: document.querySelectorAll('.live-panel[data-panel]').length }));
    const pdf = await page.pdf({ preferCSSPageSize: true, printBackground: true });
    return { pdf, ...counts };
  } finally {
    await page.close();
  }
}

/** Pages in a PDF (its page objects; Chromium writes one per page). */
export function pdfPageCount(pdf: Buffer): number {
  return (pdf.toString('latin1').match(/\/Type\s*\/Page(?![s\w])/g) ?? []).length;
}

/**
 * The text of each page of a PDF, as a reader's PDF viewer extracts it (poppler's `pdftotext`):
 * proof that the printed panels carry their state as text, not as a picture or a placeholder.
 */
export function pdfPageTexts(pdf: Buffer): string[] {
  const result = spawnSync('pdftotext', ['-layout', '-enc', 'UTF-8', '-', '-'], { input: pdf, maxBuffer: 64 * 1024 * 1024, timeout: 60_000 });
  if (result.error) {
    throw new Error(`pdftotext could not run (${result.error.message}): install poppler-utils (Debian: apt-get install poppler-utils)`);
  }
  if (result.status !== 0) throw new Error(`pdftotext failed: ${result.stderr.toString()}`);
  const pages = result.stdout.toString('utf8').split('\f');
  // pdftotext ends every page with a form feed, the last one included.
  if (pages.at(-1)?.trim() === '') pages.pop();
  return pages.map((page) => page.replace(/\s+/g, ' ').trim());
}

async function main(): Promise<void> {
  const out = process.argv[2] ?? `${ROOT}idempotency-challenge.pdf`;
  const server = await preview({ configFile: `${ROOT}vite.config.ts`, logLevel: 'warn', preview: { host: '127.0.0.1', port: 0, open: false } });
  const browser = await launchBrowser();
  try {
    const { port } = server.httpServer.address() as AddressInfo;
    const { pdf, slides, panels } = await printDeck(browser, `http://127.0.0.1:${port}/`);
    await writeFile(out, pdf);
    process.stdout.write(`wrote ${out}: ${pdfPageCount(pdf)} pages for ${slides} slides, ${panels} panels at their recorded last frame\n`);
  } finally {
    await browser.close();
    await new Promise<void>((resolve) => server.httpServer.close(() => resolve()));
  }
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  main().then(
    () => process.exit(0),
    (error: unknown) => {
      process.stderr.write(`\npdf failed: ${error instanceof Error ? error.stack : String(error)}\n`);
      process.exit(1);
    },
  );
}
