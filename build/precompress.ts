/**
 * Brotli and gzip copies of every compressible file of the build, written beside
 * it (`x.js.br`, `x.js.gz`), so the server sends them as they are instead of
 * compressing on every request, and at the highest levels, which would be too
 * slow to do per request. The server picks one by the request's Accept-Encoding
 * (server/http/staticDeck.ts). A copy that would not be smaller is not written.
 */
import { readdir, readFile, writeFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { brotliCompress, constants, gzip } from 'node:zlib';
import type { Plugin } from 'vite';
import { afterBuild } from './afterBuild.ts';

const brotli = promisify(brotliCompress);
const gzipAsync = promisify(gzip);

/** Text formats; fonts (woff2 is brotli inside), images and the copies themselves are left alone. */
export const COMPRESSIBLE = /\.(js|mjs|css|html|svg|json|txt|map|xml|ico)$/;

async function* filesUnder(dir: string): AsyncGenerator<string> {
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) yield* filesUnder(path);
    else if (entry.isFile()) yield path;
  }
}

export async function precompressDir(dir: string): Promise<{ files: number; written: number }> {
  let files = 0;
  let written = 0;
  for await (const path of filesUnder(dir)) {
    if (!COMPRESSIBLE.test(path)) continue;
    files += 1;
    const content = await readFile(path);
    const [br, gz] = await Promise.all([
      brotli(content, {
        params: {
          [constants.BROTLI_PARAM_QUALITY]: constants.BROTLI_MAX_QUALITY,
          [constants.BROTLI_PARAM_MODE]: constants.BROTLI_MODE_TEXT,
          [constants.BROTLI_PARAM_SIZE_HINT]: content.length,
        },
      }),
      gzipAsync(content, { level: constants.Z_BEST_COMPRESSION }),
    ]);
    for (const [suffix, compressed] of [['.br', br], ['.gz', gz]] as const) {
      if (compressed.length >= content.length) continue;
      await writeFile(path + suffix, compressed);
      written += 1;
    }
  }
  return { files, written };
}

export function precompress(): Plugin {
  return afterBuild('precompress', 'post', async (outDir, logger) => {
    if (!existsSync(outDir)) return;
    const { files, written } = await precompressDir(outDir);
    logger?.info(`precompressed ${files} files into ${written} .br/.gz copies`);
  });
}
