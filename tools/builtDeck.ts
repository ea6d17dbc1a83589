/**
 * The built deck, shared by the tests and the benches, in two variants:
 *  - `site`: dist/, what the site serves (`npm run build`);
 *  - `static`: dist-static/, the build a plain static host serves (VITE_STATIC_DECK=1, as
 *    `npm run build:static`), told its public address (PUBLIC_URL) as such a deploy is.
 *
 * `npm test` builds both once, before any test file runs (tests/prepare.ts), and the test
 * files only read them. A file run on its own builds a variant that is missing or stale (dist/
 * by the record of its inputs, build/deckInputs.ts; dist-static/ by its sources' modification
 * times: slides/, demo/, common/, build/, vite.config.ts). Builds run in a child process
 * (each variant has its own environment) and one at a time per folder (a lock beside it), so
 * files running side by side never write a folder another is reading from.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { staleReason } from '../build/deckInputs.ts';

const ROOT = fileURLToPath(new URL('../', import.meta.url));
const VITE = join(ROOT, 'node_modules', 'vite', 'bin', 'vite.js');
const LOCK_DEADLINE_MS = 300_000;

export type DeckVariant = 'site' | 'static';

/** The static variant's public address: its link preview names an absolute image address. */
export const STATIC_DECK_PUBLIC_URL = 'https://talk.example.org/live';

const VARIANTS: Record<DeckVariant, { dir: string; env: Record<string, string> }> = {
  site: { dir: join(ROOT, 'dist'), env: {} },
  static: { dir: join(ROOT, 'dist-static'), env: { VITE_STATIC_DECK: '1', PUBLIC_URL: STATIC_DECK_PUBLIC_URL } },
};

/** The folder a variant is built into. */
export function deckDir(variant: DeckVariant): string {
  return VARIANTS[variant].dir;
}

/** Newest modification time under a folder. */
function newest(dir: string): number {
  let latest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    latest = Math.max(latest, entry.isDirectory() ? newest(path) : statSync(path).mtimeMs);
  }
  return latest;
}

/**
 * dist/: the record its build wrote of what it was built from, as `npm start` checks it. The static
 * variant has no record: it is current when built after its sources last changed.
 */
function isFresh(variant: DeckVariant): boolean {
  if (variant === 'site') return staleReason(ROOT, { ...process.env, ...VARIANTS.site.env }) === null;
  const index = join(deckDir(variant), 'index.html');
  if (!existsSync(index)) return false;
  const folders = ['slides', 'demo', 'common', 'build'].map((folder) => join(ROOT, folder)).filter((folder) => existsSync(folder));
  const sources = Math.max(...folders.map(newest), statSync(join(ROOT, 'vite.config.ts')).mtimeMs);
  return statSync(index).mtimeMs >= sources;
}

/** `vite build` of one variant into its folder, in a child process; rejects with its output when it fails. */
function runViteBuild(variant: DeckVariant, logLevel: 'info' | 'warn'): Promise<void> {
  const { dir, env } = VARIANTS[variant];
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [VITE, 'build', '--outDir', dir, '--emptyOutDir', '--logLevel', logLevel], {
      cwd: ROOT,
      env: { ...process.env, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    const keep = (chunk: Buffer) => (output += chunk.toString());
    child.stdout.on('data', keep);
    child.stderr.on('data', keep);
    child.once('error', reject);
    child.once('exit', (code, signal) => {
      // Printed in one piece: two builds running side by side do not interleave their lines.
      process.stderr.write(`--- vite build (${variant} deck -> ${dir}) ---\n${output}`);
      if (code === 0) resolve();
      else reject(new Error(`vite build of the ${variant} deck failed (${code ?? signal})`));
    });
  });
}

/** Holds the folder's lock (a directory beside it, with the holder's pid) while `work` runs. */
async function withBuildLock<T>(dir: string, work: () => Promise<T>): Promise<T> {
  const lock = `${dir}.lock`;
  const started = Date.now();
  for (;;) {
    try {
      mkdirSync(lock);
      break;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      if (!holderAlive(lock)) {
        rmSync(lock, { recursive: true, force: true });
        continue;
      }
      if (Date.now() - started > LOCK_DEADLINE_MS) throw new Error(`timed out after ${LOCK_DEADLINE_MS} ms waiting for another build of ${dir} (${lock})`);
      // Another process is building this folder: nothing to listen to but the lock going away.
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
  }
  try {
    writeFileSync(join(lock, 'pid'), String(process.pid));
    return await work();
  } finally {
    rmSync(lock, { recursive: true, force: true });
  }
}

function holderAlive(lock: string): boolean {
  let pid: number;
  try {
    pid = Number(readFileSync(join(lock, 'pid'), 'utf8'));
  } catch {
    // Just made, its pid not written yet: alive unless it has been like that for long.
    try {
      return Date.now() - statSync(lock).mtimeMs < 10_000;
    } catch {
      return false;
    }
  }
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Builds a variant now, whatever is there (`npm test` does, once per run). */
export function buildDeck(variant: DeckVariant, logLevel: 'info' | 'warn' = 'warn'): Promise<void> {
  return withBuildLock(deckDir(variant), () => runViteBuild(variant, logLevel));
}

/** The variant's folder, built first when missing or older than its sources. */
export async function ensureDeckBuilt(variant: DeckVariant = 'site'): Promise<string> {
  if (!isFresh(variant)) {
    await withBuildLock(deckDir(variant), async () => {
      // Another process may have built it while this one waited for the lock.
      if (!isFresh(variant)) await runViteBuild(variant, 'warn');
    });
  }
  return deckDir(variant);
}
