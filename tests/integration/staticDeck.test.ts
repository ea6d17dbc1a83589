/**
 * The built deck as the server sends it, over raw HTTP (node:http, which does not
 * decompress, so the test sees the bytes on the wire): the precompressed copy the
 * request's Accept-Encoding allows, with the original type, `Content-Encoding` and
 * `Vary`; hashed assets cached as immutable, the HTML revalidated; and every copy
 * decompressing to exactly the file it stands for.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { request } from 'node:http';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { brotliDecompressSync, gunzipSync } from 'node:zlib';
import { DIST_DIR } from '../../server/app.ts';
import { chooseCoding, IMMUTABLE } from '../../server/http/staticDeck.ts';
import { ensureDeckBuilt } from '../../tools/builtDeck.ts';
import { startSite, type Site } from '../support/site.ts';

interface RawReply {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: Buffer;
}

function get(site: Site, path: string, headers: Record<string, string> = {}, method = 'GET'): Promise<RawReply> {
  return new Promise((resolve, reject) => {
    const req = request(`${site.url}${path}`, { method, headers, timeout: 5000 }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }));
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error(`no answer for ${path} within 5 s`)));
    req.on('error', reject);
    req.end();
  });
}

function decode(reply: RawReply): Buffer {
  const coding = reply.headers['content-encoding'];
  if (coding === 'br') return brotliDecompressSync(reply.body);
  if (coding === 'gzip') return gunzipSync(reply.body);
  assert.equal(coding, undefined, `unexpected coding ${String(coding)}`);
  return reply.body;
}

/** Every test fails rather than hangs. */
const TEST_DEADLINE_MS = 60_000;

let site: Site;
let mainScript = '';
let stylesheet = '';
let font = '';

before(async () => {
  await ensureDeckBuilt();
  site = await startSite({}, { deck: true });
  const assets = readdirSync(join(DIST_DIR, 'assets'));
  const html = readFileSync(join(DIST_DIR, 'index.html'), 'utf8');
  mainScript = `/assets/${/<script[^>]*src="\.\/assets\/([^"]+\.js)"/.exec(html)?.[1]}`;
  stylesheet = `/assets/${/<link rel="stylesheet"[^>]*href="\.\/assets\/([^"]+\.css)"/.exec(html)?.[1]}`;
  font = `/assets/${assets.find((name) => name.endsWith('.woff2'))}`;
  assert.ok(!mainScript.endsWith('undefined') && !stylesheet.endsWith('undefined') && !font.endsWith('undefined'), 'the built page names its script, stylesheet and a font');
});

after(async () => {
  await site?.close();
});

describe('precompressed deck files', () => {
  for (const [accept, expected] of [
    ['gzip, deflate, br, zstd', 'br'],
    ['gzip, deflate', 'gzip'],
    ['br;q=0, gzip;q=0.5', 'gzip'],
    ['*', 'br'],
    ['identity', undefined],
    ['', undefined],
  ] as const) {
    test(`Accept-Encoding "${accept}" gets ${expected ?? 'the file as it is'}`, { timeout: TEST_DEADLINE_MS }, async () => {
      for (const path of [mainScript, stylesheet, '/']) {
        const reply = await get(site, path, accept ? { 'accept-encoding': accept } : {});
        assert.equal(reply.status, 200, path);
        assert.equal(reply.headers['content-encoding'], expected, `${path} coding`);
        assert.match(String(reply.headers.vary), /accept-encoding/i, `${path} varies by Accept-Encoding`);
        const file = join(DIST_DIR, path === '/' ? 'index.html' : path);
        assert.deepEqual(decode(reply), readFileSync(file), `${path} decodes to the built file`);
        // The HTML is too small to shrink much; the script and stylesheet shrink to well under half.
        const ratio = path === '/' ? 0.8 : 0.5;
        if (expected) assert.ok(reply.body.length < readFileSync(file).length * ratio, `${path} is sent compressed (${reply.body.length} bytes)`);
        assert.equal(Number(reply.headers['content-length']), reply.body.length, `${path} content-length is the sent size`);
      }
    });
  }

  test('each file keeps its own type whichever copy is sent', { timeout: TEST_DEADLINE_MS }, async () => {
    for (const accept of ['br', 'gzip', 'identity']) {
      assert.match(String((await get(site, mainScript, { 'accept-encoding': accept })).headers['content-type']), /^text\/javascript/);
      assert.match(String((await get(site, stylesheet, { 'accept-encoding': accept })).headers['content-type']), /^text\/css/);
      assert.match(String((await get(site, '/', { 'accept-encoding': accept })).headers['content-type']), /^text\/html/);
    }
  });

  test('fonts (already compressed inside) are sent as they are', { timeout: TEST_DEADLINE_MS }, async () => {
    const reply = await get(site, font, { 'accept-encoding': 'gzip, deflate, br' });
    assert.equal(reply.status, 200);
    assert.equal(reply.headers['content-encoding'], undefined);
    assert.equal(reply.headers['content-type'], 'font/woff2');
  });

  test('a copy is not served under its own name, and an unknown path is not found', { timeout: TEST_DEADLINE_MS }, async () => {
    assert.equal((await get(site, `${mainScript}.br`)).status, 404);
    assert.equal((await get(site, '/assets/nothing-here.js', { 'accept-encoding': 'br' })).status, 404);
  });

  test('a revalidation with the ETag of the copy sent gets 304; HEAD sends headers only', { timeout: TEST_DEADLINE_MS }, async () => {
    const first = await get(site, mainScript, { 'accept-encoding': 'br' });
    const etag = String(first.headers.etag);
    assert.ok(etag.length > 2, 'an ETag');
    const gzipped = await get(site, mainScript, { 'accept-encoding': 'gzip' });
    assert.notEqual(gzipped.headers.etag, etag, 'each copy has its own ETag');
    const again = await get(site, mainScript, { 'accept-encoding': 'br', 'if-none-match': etag });
    assert.equal(again.status, 304);
    const head = await get(site, mainScript, { 'accept-encoding': 'br' }, 'HEAD');
    assert.equal(head.status, 200);
    assert.equal(head.headers['content-encoding'], 'br');
    assert.equal(head.body.length, 0);
  });
});

describe('caching', () => {
  test('hashed assets are immutable for a year; the HTML is revalidated on every load', { timeout: TEST_DEADLINE_MS }, async () => {
    for (const path of [mainScript, stylesheet, font]) {
      assert.equal((await get(site, path, { 'accept-encoding': 'br' })).headers['cache-control'], IMMUTABLE, path);
    }
    assert.equal(IMMUTABLE, 'public, max-age=31536000, immutable');
    for (const path of ['/', '/index.html']) {
      assert.equal((await get(site, path, { 'accept-encoding': 'br' })).headers['cache-control'], 'no-cache', path);
    }
  });

  test('the API is not cached as a deck file', { timeout: TEST_DEADLINE_MS }, async () => {
    const reply = await get(site, '/api/pools/main');
    assert.notEqual(reply.headers['cache-control'], IMMUTABLE);
  });
});

describe('choosing a coding', () => {
  test('our preference among what the client accepts, q=0 meaning no', () => {
    assert.equal(chooseCoding('gzip, br', ['br', 'gzip']), 'br');
    assert.equal(chooseCoding('gzip;q=1, br;q=0', ['br', 'gzip']), 'gzip');
    assert.equal(chooseCoding('BR', ['br', 'gzip']), 'br');
    assert.equal(chooseCoding('*;q=0.1', ['gzip']), 'gzip');
    assert.equal(chooseCoding('*, gzip;q=0', ['gzip']), null);
    assert.equal(chooseCoding('deflate', ['br', 'gzip']), null);
    assert.equal(chooseCoding('br', ['gzip']), null);
    assert.equal(chooseCoding(undefined, ['br', 'gzip']), null);
    assert.equal(chooseCoding('gzip ; q = 0.0', ['gzip']), null);
  });
});
