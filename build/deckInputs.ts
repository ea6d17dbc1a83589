/**
 * What the built deck in dist/ was built from, so that `npm start` rebuilds only
 * when that changed. Every build into dist/ (npm start's, `npm run build`, the
 * tests') writes, beside it, `.dist-inputs.json`: a SHA-256 of each input file and
 * the environment the build reads. A start hashes the same files again (~1 MB,
 * a few milliseconds) and compares.
 *
 * The inputs: every file under the deck's folders (slides/, demo/, common/ and the
 * build's own plugins in build/), the build's configuration, the installed
 * packages (npm's record of node_modules), and any other file the bundle was
 * made of (the build lists its modules). The record is removed when a build
 * starts and written when its last file is, so a failed or interrupted build
 * leaves none, and the next start builds again.
 */
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join, relative, resolve, sep } from 'node:path';
import type { Plugin } from 'vite';

export const INPUTS_FILE = '.dist-inputs.json';
const INPUT_DIRS = ['slides', 'demo', 'common', 'build'];
const INPUT_FILES = ['vite.config.ts', 'tsconfig.json', 'package.json', 'package-lock.json', 'node_modules/.package-lock.json'];

interface DeckInputs {
  /** Environment variables the build reads, as they were. */
  env: Record<string, string>;
  /** Project-relative path → SHA-256 of its content ('' for a file that was missing). */
  files: Record<string, string>;
}

/** PUBLIC_URL (the link preview's image address) and the variables Vite hands the deck (VITE_*). */
export function buildEnv(env: NodeJS.ProcessEnv): Record<string, string> {
  return Object.fromEntries(
    Object.entries(env)
      .filter((entry): entry is [string, string] => (entry[0] === 'PUBLIC_URL' || entry[0].startsWith('VITE_')) && entry[1] !== undefined && entry[1] !== '')
      .sort(([a], [b]) => a.localeCompare(b)),
  );
}

function filesUnder(root: string, dir: string): string[] {
  const absolute = join(root, dir);
  if (!existsSync(absolute)) return [];
  return readdirSync(absolute, { withFileTypes: true, recursive: true })
    .filter((entry) => entry.isFile())
    .map((entry) => relative(root, join(entry.parentPath, entry.name)).split(sep).join('/'));
}

function hashFiles(root: string, paths: Iterable<string>): Record<string, string> {
  const files: Record<string, string> = {};
  for (const path of [...new Set(paths)].sort()) {
    const absolute = join(root, path);
    files[path] = existsSync(absolute) ? createHash('sha256').update(readFileSync(absolute)).digest('hex') : '';
  }
  return files;
}

/** The fixed inputs: the deck's folders as they are now, and the configuration. */
function fixedInputs(root: string): string[] {
  return [...INPUT_DIRS.flatMap((dir) => filesUnder(root, dir)), ...INPUT_FILES];
}

function readInputs(root: string): DeckInputs | null {
  try {
    return JSON.parse(readFileSync(join(root, INPUTS_FILE), 'utf8')) as DeckInputs;
  } catch {
    return null;
  }
}

/**
 * Why dist/ must be built again, or null when it holds a build of the sources as
 * they are (same files, same content, same build environment).
 */
export function staleReason(root: string, env: NodeJS.ProcessEnv = process.env): string | null {
  if (!existsSync(join(root, 'dist', 'index.html'))) return 'no built deck in dist/';
  const recorded = readInputs(root);
  if (!recorded) return `no record of what dist/ was built from (${INPUTS_FILE})`;
  if (JSON.stringify(recorded.env) !== JSON.stringify(buildEnv(env))) return 'the build environment changed (PUBLIC_URL or VITE_*)';
  const now = hashFiles(root, [...fixedInputs(root), ...Object.keys(recorded.files)]);
  for (const [path, hash] of Object.entries(now)) {
    if (!(path in recorded.files)) return `${path} is new`;
    if (recorded.files[path] !== hash) return `${path} changed`;
  }
  return null;
}

/**
 * Writes the record beside `distDir` for every build into it; a build into
 * another folder (a test's temporary build) leaves dist/ and its record alone.
 */
export function recordDeckInputs(root: string, distDir: string): Plugin {
  let active = false;
  let fixed: Record<string, string> = {};
  let bundled: string[] = [];
  return {
    name: 'record-deck-inputs',
    apply: 'build',
    configResolved(config) {
      active = resolve(config.root, config.build.outDir) === resolve(distDir);
    },
    buildStart() {
      if (!active) return;
      rmSync(join(root, INPUTS_FILE), { force: true });
      // Hashed before the sources are read: an edit made during the build makes the next start build again.
      fixed = hashFiles(root, fixedInputs(root));
    },
    generateBundle() {
      if (!active) return;
      const rootPrefix = resolve(root) + sep;
      bundled = [...this.getModuleIds()]
        .map((id) => id.split('?')[0]!)
        .filter((id) => id.startsWith(rootPrefix) && !id.includes(`${sep}node_modules${sep}`) && existsSync(id))
        .map((id) => relative(root, id).split(sep).join('/'));
    },
    writeBundle: {
      // After the other steps that write into the output (the preview image, the compressed copies).
      order: 'post',
      sequential: true,
      handler() {
        if (!active) return;
        const inputs: DeckInputs = { env: buildEnv(process.env), files: { ...hashFiles(root, bundled), ...fixed } };
        writeFileSync(join(root, INPUTS_FILE), JSON.stringify(inputs, null, 1));
      },
    },
  };
}
