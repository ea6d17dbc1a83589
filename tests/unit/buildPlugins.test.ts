/**
 * The deck's two build plugins on their own: highlight.js cut down to the talk's
 * languages (and a loud failure when reveal's bundle no longer looks as expected),
 * and the brotli/gzip copies written beside each compressible file.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync, mkdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { brotliDecompressSync, gunzipSync } from 'node:zlib';
import type { Plugin } from 'vite';
import { highlightOnly } from '../../build/highlightLanguages.ts';
import { precompressDir } from '../../build/precompress.ts';

const HIGHLIGHT_BUNDLE = join(createRequire(import.meta.url).resolve('reveal.js'), '..', 'plugin', 'highlight.mjs');

function transform(plugin: Plugin, code: string, id: string): { code: string } | null {
  const hook = plugin.transform as (this: unknown, code: string, id: string) => { code: string } | null;
  return hook.call({}, code, id);
}

const registered = (code: string) => [...code.matchAll(/\.registerLanguage\("([\w-]+)"/g)].map((match) => match[1]);

test("reveal's highlight bundle keeps the registrations of the languages asked for, and no other", () => {
  const original = readFileSync(HIGHLIGHT_BUNDLE, 'utf8');
  assert.ok(registered(original).length > 150, 'the bundle as shipped registers every language');
  const result = transform(highlightOnly(['python', 'lua']), original, HIGHLIGHT_BUNDLE);
  assert.ok(result);
  assert.deepEqual(registered(result.code).sort(), ['lua', 'python']);
  // What stays is still valid JavaScript around the two calls.
  assert.match(result.code, /\.registerLanguage\("python", \w+\(\)\), /);
});

test('other files are left alone', () => {
  assert.equal(transform(highlightOnly(['python']), 'n.registerLanguage("go", x()), ', '/src/other.ts'), null);
});

test("a bundle that no longer looks like reveal's fails the build instead of shipping all languages or none", () => {
  const plugin = highlightOnly(['python', 'lua']);
  assert.throws(() => transform(plugin, 'export default {}', '/x/node_modules/reveal.js/dist/plugin/highlight.mjs'), /no longer looks as expected/);
  const original = readFileSync(HIGHLIGHT_BUNDLE, 'utf8');
  assert.throws(() => transform(highlightOnly(['python', 'klingon']), original, HIGHLIGHT_BUNDLE), /missing: klingon/);
});

test('brotli and gzip copies beside each compressible file, decompressing to it exactly', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'precompress-'));
  try {
    mkdirSync(join(dir, 'assets'));
    const script = 'export const talk = "idempotent";\n'.repeat(200);
    writeFileSync(join(dir, 'assets', 'main.js'), script);
    writeFileSync(join(dir, 'index.html'), `<!doctype html><title>x</title>${'<p>hall</p>'.repeat(50)}`);
    writeFileSync(join(dir, 'assets', 'font.woff2'), Buffer.alloc(4000, 7));
    writeFileSync(join(dir, 'tiny.txt'), 'a');

    const { files, written } = await precompressDir(dir);
    assert.equal(files, 3, 'js, html and txt are compressible; the font is not');
    assert.equal(written, 4, 'two copies each for the js and the html; none for a file they would not shrink');
    assert.equal(brotliDecompressSync(readFileSync(join(dir, 'assets', 'main.js.br'))).toString(), script);
    assert.equal(gunzipSync(readFileSync(join(dir, 'assets', 'main.js.gz'))).toString(), script);
    assert.ok(existsSync(join(dir, 'index.html.br')) && existsSync(join(dir, 'index.html.gz')));
    assert.ok(!existsSync(join(dir, 'assets', 'font.woff2.br')), 'fonts are already compressed');
    assert.ok(!existsSync(join(dir, 'tiny.txt.gz')), 'a copy that would not be smaller is not written');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
