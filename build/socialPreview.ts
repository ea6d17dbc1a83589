/**
 * The link preview: when the deck's address is pasted into a chat or a social site,
 * it shows the talk's first slide. The build screenshots slide 1 of the deck it has
 * just written (served from the output folder, in the Chromium the tests use) into
 * `social-preview.png`, and names it in the page's `og:image` / `twitter:image`.
 * Title and description are static tags in slides/index.html.
 *
 * With no Chromium on the machine (a fresh one before `.ci/run` installed it, say)
 * the build does not fail: it warns and leaves the image tags out, so that
 * `npm start` still works; link previews then show the title and description alone.
 * `PUBLIC_URL` (the site's public address), when set at build time, makes the image's
 * address absolute, as some sites require, and is named as the page's own address
 * (`og:url`), with or without an image: the printed deck's title page shows it where
 * no server is there to say where the live site is (demo/panels/joinPanel.ts).
 *
 * Runs before the precompress plugin (order 'pre' < 'post'), so the .br/.gz copies of
 * index.html carry the tags too.
 */
import { readFile, writeFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { preview, type Plugin } from 'vite';
import { afterBuild } from './afterBuild.ts';

export const PREVIEW_FILE = 'social-preview.png';
/** The size social sites ask for (1.91:1). */
export const PREVIEW_SIZE = { width: 1200, height: 630 };
/** Where the build puts the image tags in index.html. */
const MARKER = '<!-- social-preview-image -->';
/** Slide 1 alone: no arrows, progress bar or slide number, and no notes button (`receiver` is a preview). */
const PREVIEW_QUERY = '?receiver&controls=false&progress=false&slideNumber=false#/0';
const DEADLINE_MS = 20_000;

/** Screenshots slide 1 of the built deck in `outDir` into `outDir/social-preview.png`. */
export async function screenshotFirstSlide(outDir: string): Promise<void> {
  const server = await preview({
    configFile: false,
    logLevel: 'silent',
    root: outDir,
    base: './',
    build: { outDir },
    preview: { host: '127.0.0.1', port: 0, open: false },
  });
  try {
    const address = server.resolvedUrls?.local[0];
    if (!address) throw new Error('the preview server has no address');
    // Loaded here: playwright-core is a dev dependency, and an install without it must still build (without an image).
    const { launchBrowser } = await import('../tools/browser.ts');
    const browser = await launchBrowser();
    try {
      const page = await browser.newPage({ viewport: PREVIEW_SIZE, deviceScaleFactor: 1 });
      await page.goto(new URL(PREVIEW_QUERY, address).href, { timeout: DEADLINE_MS });
      await page.waitForFunction(() => window.Reveal?.isReady() === true, null, { timeout: DEADLINE_MS });
      // The slide's words only: a live panel here (the join block, say) has no server to talk to at build time.
      await page.addStyleTag({ content: '.reveal .live-panel { display: none !important; }' });
      await page.evaluate(async () => {
        await document.fonts.ready;
        window.Reveal?.layout();
        await new Promise(requestAnimationFrame);
      });
      await page.screenshot({ path: join(outDir, PREVIEW_FILE), timeout: DEADLINE_MS });
    } finally {
      await browser.close();
    }
  } finally {
    await server.close();
  }
}

/** The page's public address, for link previews and the printed title page; nothing when none is known. */
export function addressTag(publicUrl: string | undefined): string {
  return publicUrl ? `<meta property="og:url" content="${new URL(publicUrl).href}" />` : '';
}

/** The image tags for index.html. */
export function imageTags(publicUrl: string | undefined): string {
  const href = publicUrl ? new URL(PREVIEW_FILE, publicUrl.endsWith('/') ? publicUrl : `${publicUrl}/`).href : `./${PREVIEW_FILE}`;
  return [
    `<meta property="og:image" content="${href}" />`,
    `<meta property="og:image:width" content="${PREVIEW_SIZE.width}" />`,
    `<meta property="og:image:height" content="${PREVIEW_SIZE.height}" />`,
    `<meta property="og:image:alt" content="The talk's first slide" />`,
    `<meta name="twitter:image" content="${href}" />`,
  ].join('\n    ');
}

export function socialPreview(): Plugin {
  return afterBuild('social-preview', 'pre', async (outDir, logger) => {
    const index = join(outDir, 'index.html');
    if (!existsSync(index)) return;
    const html = await readFile(index, 'utf8');
    let tags = '';
    try {
      await screenshotFirstSlide(outDir);
      tags = imageTags(process.env.PUBLIC_URL);
      logger?.info(`social preview: slide 1 -> ${PREVIEW_FILE}`);
    } catch (error) {
      logger?.warn(
        `social preview skipped: no image of slide 1 (${(error as Error).message.split('\n')[0]}). ` +
          'Link previews will show the title and description only. Install Chromium (see .ci/run) or set CHROMIUM_PATH, then build again.',
      );
    }
    await writeFile(index, html.replace(MARKER, [addressTag(process.env.PUBLIC_URL), tags].filter(Boolean).join('\n    ')));
  });
}
