/**
 * The link preview made at build time (build/socialPreview.ts): the page's title,
 * description and image tags, and the image itself, a real screenshot of slide 1,
 * in the static variant of the built deck (tools/builtDeck.ts), built with PUBLIC_URL.
 * Then a build of its own on a machine without Chromium: it must still succeed, say
 * why there is no image, and leave no tag pointing at a missing file.
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { brotliDecompressSync } from 'node:zlib';
import { PNG } from 'pngjs';
import { ensureDeckBuilt } from '../../tools/builtDeck.ts';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const run = promisify(execFile);
const folders: string[] = [];

after(async () => {
  for (const folder of folders) await rm(folder, { recursive: true, force: true });
});

/** `vite build` into a new temporary folder, in a child process with `env` added. */
async function buildInto(env: Record<string, string>): Promise<{ outDir: string; output: string }> {
  const outDir = await mkdtemp(join(tmpdir(), 'social-preview-'));
  folders.push(outDir);
  const { stdout, stderr } = await run(process.execPath, [join(ROOT, 'node_modules/vite/bin/vite.js'), 'build', '--outDir', outDir, '--emptyOutDir'], {
    cwd: ROOT,
    env: { ...process.env, ...env },
    timeout: 120_000,
  });
  return { outDir, output: stdout + stderr };
}

function meta(html: string, key: string): string | undefined {
  const match = new RegExp(`<meta (?:property|name)="${key}" content="([^"]*)"`).exec(html);
  return match?.[1];
}

test('the build names the title, a description and an image of slide 1 for link previews', async () => {
  // The static variant: built once per run, told its public address (STATIC_DECK_PUBLIC_URL) as a static deploy is.
  const outDir = await ensureDeckBuilt('static');
  const html = await readFile(join(outDir, 'index.html'), 'utf8');
  assert.equal(meta(html, 'og:title'), 'The Idempotency Challenge: When Frameworks Betray You');
  assert.match(meta(html, 'og:description') ?? '', /Celery .* Lua/);
  assert.match(meta(html, 'description') ?? '', /Celery .* Lua/);
  assert.equal(meta(html, 'twitter:card'), 'summary_large_image');
  assert.equal(meta(html, 'og:image'), 'https://talk.example.org/live/social-preview.png');
  assert.equal(meta(html, 'twitter:image'), 'https://talk.example.org/live/social-preview.png');
  assert.equal(meta(html, 'og:url'), 'https://talk.example.org/live', "the site's own address");
  assert.doesNotMatch(html, /social-preview-image/, 'the marker is replaced');
  // The precompressed copy the server sends is the same page, tags included.
  assert.equal(brotliDecompressSync(await readFile(join(outDir, 'index.html.br'))).toString('utf8'), html);

  const image = PNG.sync.read(await readFile(join(outDir, 'social-preview.png')));
  assert.deepEqual([image.width, image.height], [1200, 630]);
  // The slide's white title on the night theme's dark background: many bright pixels, mostly dark ones.
  let bright = 0;
  let dark = 0;
  for (let i = 0; i < image.data.length; i += 4) {
    const light = (image.data[i]! + image.data[i + 1]! + image.data[i + 2]!) / 3;
    if (light > 200) bright++;
    if (light < 40) dark++;
  }
  const pixels = image.width * image.height;
  assert.ok(bright > 5_000, `the title is drawn (${bright} bright pixels)`);
  assert.ok(dark > pixels / 2, 'on the dark background');
});

test('with no Chromium the build still succeeds, warns, and names no image (but the address it was told)', async () => {
  const { outDir, output } = await buildInto({ CHROMIUM_PATH: '/nonexistent/chromium', PLAYWRIGHT_BROWSERS_PATH: '/nonexistent/browsers', PUBLIC_URL: 'https://talk.example.org/' });
  const html = await readFile(join(outDir, 'index.html'), 'utf8');
  assert.match(output, /social preview skipped/);
  assert.equal(meta(html, 'og:title'), 'The Idempotency Challenge: When Frameworks Betray You');
  assert.equal(meta(html, 'og:image'), undefined);
  assert.equal(meta(html, 'twitter:image'), undefined);
  assert.equal(meta(html, 'og:url'), 'https://talk.example.org/');
  assert.doesNotMatch(html, /social-preview-image/);
  assert.equal(existsSync(join(outDir, 'social-preview.png')), false);
});
