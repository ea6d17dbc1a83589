/**
 * Serves the built deck (dist/) the way a hall's Wi-Fi needs it:
 *
 * - Precompressed: the build writes `x.js.br` and `x.js.gz` beside `x.js`
 *   (build/precompress.ts). The copy the request's Accept-Encoding allows is sent
 *   as it is, brotli first, with `Content-Encoding` and the original file's type;
 *   every answer for a file that has copies says `Vary: Accept-Encoding`.
 * - Cached: files under `/assets/` carry a content hash in their name, so they
 *   never change: `immutable` for a year. Everything else (the HTML, which names
 *   the current hashes) is revalidated on every load (`no-cache`, with its ETag).
 *
 * The folder is read once at start: the built deck does not change while the
 * server runs. A path not in it falls through to the next handler.
 */
import { readdirSync } from 'node:fs';
import { extname, join, relative, resolve, sep } from 'node:path';
import type { NextFunction, Request, RequestHandler, Response } from 'express';

export const IMMUTABLE = 'public, max-age=31536000, immutable';
export const REVALIDATE = 'no-cache';

/** Content codings the build writes, in the order the server prefers them, with their file suffix. */
const CODINGS = [
  { coding: 'br', suffix: '.br' },
  { coding: 'gzip', suffix: '.gz' },
] as const;
type Coding = (typeof CODINGS)[number]['coding'];

interface DeckFile {
  /** The file as built, sent when the client accepts no coding we have. */
  path: string;
  /** The precompressed copies that exist, by coding. */
  copies: Partial<Record<Coding, string>>;
  cacheControl: string;
}

function listFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true, recursive: true })
    .filter((entry) => entry.isFile())
    .map((entry) => join(entry.parentPath, entry.name));
}

/** URL path -> file, with its copies; the copies themselves are not served under their own names. */
function indexDeck(distDir: string): Map<string, DeckFile> {
  const all = new Set(listFiles(distDir));
  const files = new Map<string, DeckFile>();
  for (const path of all) {
    if (CODINGS.some(({ suffix }) => path.endsWith(suffix) && all.has(path.slice(0, -suffix.length)))) continue;
    const urlPath = `/${relative(distDir, path).split(sep).join('/')}`;
    const copies: DeckFile['copies'] = {};
    for (const { coding, suffix } of CODINGS) if (all.has(path + suffix)) copies[coding] = path + suffix;
    files.set(urlPath, { path, copies, cacheControl: urlPath.startsWith('/assets/') ? IMMUTABLE : REVALIDATE });
  }
  const index = files.get('/index.html');
  if (index) files.set('/', index);
  return files;
}

/**
 * The coding to send, from an Accept-Encoding header (RFC 9110 12.5.3): the first of
 * ours, in our order, that the client gives a q above 0, by name or through `*`.
 * Null: send the file as it is.
 */
export function chooseCoding(header: string | undefined, available: readonly Coding[]): Coding | null {
  if (!header) return null;
  const weights = new Map<string, number>();
  for (const part of header.split(',')) {
    const [name = '', ...params] = part.trim().toLowerCase().split(';');
    if (name === '') continue;
    const q = params.map((param) => /^\s*q\s*=\s*([0-9.]+)\s*$/.exec(param)?.[1]).find((value) => value !== undefined);
    weights.set(name, q === undefined ? 1 : Number(q));
  }
  for (const { coding } of CODINGS) {
    if (!available.includes(coding)) continue;
    const weight = weights.get(coding) ?? weights.get('*') ?? 0;
    if (weight > 0) return coding;
  }
  return null;
}

export function staticDeck(distDir: string): RequestHandler {
  const files = indexDeck(resolve(distDir));
  return (req: Request, res: Response, next: NextFunction) => {
    if (req.method !== 'GET' && req.method !== 'HEAD') return next();
    const file = files.get(req.path);
    if (!file) return next();

    const codings = Object.keys(file.copies) as Coding[];
    const coding = chooseCoding(req.get('accept-encoding'), codings);
    if (codings.length > 0) res.vary('Accept-Encoding');
    if (coding) res.setHeader('Content-Encoding', coding);
    // The type is the original file's, whichever copy goes out.
    res.type(extname(file.path));
    res.setHeader('Cache-Control', file.cacheControl);
    res.sendFile(coding ? file.copies[coding]! : file.path, { cacheControl: false, etag: true, lastModified: true }, (error) => {
      // A viewer who left mid-download (a closed tab, a lost phone) is not a server error.
      if (error && !res.headersSent && (error as NodeJS.ErrnoException).code !== 'ECONNABORTED') next(error);
    });
  };
}
