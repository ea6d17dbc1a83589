/**
 * `npm start` as a newcomer runs it: on a built tree it does not build again and
 * the first thing it prints is the presenter link and the address phones join
 * at; with no record of what dist/ was built from (a fresh clone) it builds, in
 * two lines instead of Vite's listing, and then starts the same way.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, readdirSync, rmSync, statSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { INPUTS_FILE, staleReason } from '../../build/deckInputs.ts';
import { withDeadline } from '../support/deadline.ts';
import { buildDeck } from '../../tools/builtDeck.ts';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const START_DEADLINE_MS = 150_000;
/** What Vite prints when it builds at its default log level: none of it belongs on npm start's terminal. */
const BUILD_NOISE = /vite v\d|dist\/assets\/|modules transformed|built in \d|PLUGIN_TIMINGS|precompressed|social preview:|externalized/;

interface Started {
  /** Everything on stdout until the site said it is live, npm's own header left out. */
  lines: string[];
  url: string;
}

/** `npm start` until its "is live" log line; /healthz is asked once it is; then Ctrl-C. */
async function npmStart(cwd = ROOT): Promise<Started> {
  const env: NodeJS.ProcessEnv = { ...process.env, PORT: '0', HOST: '127.0.0.1', TASK_WORKERS: '0', CELERY_WORKERS: '0', LOG_LEVEL: 'info' };
  delete env.REDIS_URL;
  delete env.PRESENTER_SECRET;
  const npm = spawn('npm', ['start'], { cwd, env, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
  const exited = new Promise<void>((resolve) => npm.once('exit', () => resolve()));
  let stderr = '';
  npm.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const lines: string[] = [];
  try {
    const url = await withDeadline(
      new Promise<string>((resolve, reject) => {
        let pending = '';
        npm.stdout!.on('data', (chunk: Buffer) => {
          pending += chunk.toString();
          const parts = pending.split('\n');
          pending = parts.pop()!;
          for (const line of parts) {
            // npm's header: "> name@version start" and "> exec node …".
            if (line.startsWith('> ')) continue;
            lines.push(line);
            const live = /"msg":"The Idempotency Challenge is live","url":"([^"]+)"/.exec(line);
            if (live) resolve(live[1]!.replace(/\/$/, ''));
          }
        });
        npm.once('exit', (code) => reject(new Error(`npm start exited (${code}) before the site was live: ${stderr}`)));
      }),
      START_DEADLINE_MS,
      'npm start to say the site is live',
    );
    const health = await fetch(`${url}/healthz`);
    assert.equal(health.status, 200);
    return { lines, url };
  } finally {
    process.kill(-npm.pid!, 'SIGINT');
    await withDeadline(exited, 10_000, 'npm start to stop on Ctrl-C').catch(() => process.kill(-npm.pid!, 'SIGKILL'));
  }
}

/** The printed lines that are not the server's JSON log lines, blank lines left out. */
const humanLines = (lines: string[]) => lines.filter((line) => line.trim() !== '' && !line.startsWith('{'));

function assertLinksFirst(started: Started): void {
  const rest = humanLines(started.lines);
  assert.match(rest[0] ?? '', /^Presenter link \(keep it to yourself; new each start/, rest.join('\n'));
  assert.match(rest[1] ?? '', new RegExp(`^  ${started.url}/presenter\\?token=[\\w-]{8,}$`));
  assert.equal(rest[2], 'Phones join at:');
  assert.match(rest[3] ?? '', new RegExp(`^  ${started.url}/  \\(only this machine can open it: start with HOST=0\\.0\\.0\\.0`));
  // The start-up's log lines come after the links, not before: the first JSON line follows them.
  const firstJson = started.lines.findIndex((line) => line.startsWith('{'));
  const link = started.lines.findIndex((line) => line.includes('/presenter?token='));
  assert.ok(firstJson > link, 'the log lines follow the links');
  assert.ok(started.lines.some((line) => line.includes('"msg":"started a private redis-server"')), 'and none is dropped');
  for (const line of started.lines) assert.doesNotMatch(line, BUILD_NOISE);
}

test('on a built tree, npm start does not build, and prints the presenter link and the join URL first', { timeout: 240_000 }, async () => {
  if (staleReason(ROOT)) await buildDeck('site');
  assert.equal(staleReason(ROOT), null);
  const recorded = statSync(join(ROOT, INPUTS_FILE)).mtimeMs;
  const index = statSync(join(ROOT, 'dist', 'index.html')).mtimeMs;

  const started = await npmStart();
  assertLinksFirst(started);
  assert.equal(statSync(join(ROOT, 'dist', 'index.html')).mtimeMs, index, 'dist/ was not built again');
  assert.equal(statSync(join(ROOT, INPUTS_FILE)).mtimeMs, recorded);
});

/**
 * The project with a built deck but no record of what it was built from, in a folder of its own with the
 * installed packages linked: its build must not write the dist/ that the test files running alongside read.
 */
function unrecordedCopy(): string {
  const copy = mkdtempSync(join(tmpdir(), 'idem-start-'));
  const left = new Set(['.git', 'node_modules', 'dist-static', INPUTS_FILE]);
  for (const entry of readdirSync(ROOT)) {
    if (!left.has(entry) && !entry.endsWith('.lock')) cpSync(join(ROOT, entry), join(copy, entry), { recursive: true });
  }
  symlinkSync(join(ROOT, 'node_modules'), join(copy, 'node_modules'));
  return copy;
}

test('with no record of what dist/ was built from, npm start builds, in two lines, then starts', { timeout: 300_000 }, async () => {
  const copy = unrecordedCopy();
  try {
    const started = await npmStart(copy);
    const human = humanLines(started.lines);
    assert.match(human[0] ?? '', /^Building the deck \(no record of what dist\/ was built from/);
    assert.match(human[1] ?? '', /^Built in \d+\.\d s\.$/);
    assertLinksFirst({ ...started, lines: started.lines.slice(started.lines.findIndex((line) => line.startsWith('Built in')) + 1) });
    assert.ok(existsSync(join(copy, INPUTS_FILE)), 'the build recorded its inputs');
    assert.equal(staleReason(copy), null);
  } finally {
    rmSync(copy, { recursive: true, force: true });
  }
});
