/**
 * How long `npm start` takes until the site answers: from spawning the command to
 * the first 200 from `/healthz`, and to the presenter link on the terminal.
 *
 *   npm run bench:start -- [--runs 5] [--port 4501]
 *
 * Two commands, alternating run by run so both see the same machine:
 *  - "build every start": what `npm start` did before it checked its inputs
 *    (`vite build && node server/main.ts`);
 *  - "npm start": the current script, on the tree the previous run just built
 *    (so it finds the build current and does not build).
 * Each run starts the whole site (private Redis, task workers) and stops it with
 * Ctrl-C (SIGINT to its process group). Prints medians, the ratio, and the load.
 */
import { spawn } from 'node:child_process';
import { loadavg } from 'node:os';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const DEADLINE_MS = 180_000;

const { values: args } = parseArgs({ options: { runs: { type: 'string', default: '5' }, port: { type: 'string', default: '4501' } } });
const RUNS = Math.max(1, Number(args.runs));
const PORT = Number(args.port);

const COMMANDS = {
  'build every start': ['sh', '-c', 'npx --no-install vite build && exec node --import tsx server/main.ts'],
  'npm start': ['npm', 'start'],
} as const;
type Name = keyof typeof COMMANDS;

interface Start {
  healthzMs: number;
  presenterLinkMs: number;
  /** Lines on stdout before the presenter link. */
  linesBefore: number;
}

async function healthy(): Promise<boolean> {
  try {
    return (await fetch(`http://127.0.0.1:${PORT}/healthz`, { signal: AbortSignal.timeout(1000) })).ok;
  } catch {
    return false;
  }
}

async function startOnce(name: Name): Promise<Start> {
  if (await healthy()) throw new Error(`something already answers on port ${PORT}`);
  const [command, ...commandArgs] = COMMANDS[name];
  const started = performance.now();
  const child = spawn(command, commandArgs, { cwd: ROOT, env: { ...process.env, PORT: String(PORT), HOST: '127.0.0.1' }, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  let presenterLinkMs = NaN;
  let lines = 0;
  let linesBefore = NaN;
  let pending = '';
  child.stdout!.on('data', (chunk: Buffer) => {
    pending += chunk.toString();
    const parts = pending.split('\n');
    pending = parts.pop()!;
    for (const line of parts) {
      if (Number.isNaN(presenterLinkMs) && line.includes('/presenter?token=')) {
        presenterLinkMs = performance.now() - started;
        linesBefore = lines;
      }
      lines += 1;
    }
  });
  child.stderr!.resume();
  try {
    while (!(await healthy())) {
      if (child.exitCode !== null) throw new Error(`${name} exited (${child.exitCode}) before answering`);
      if (performance.now() - started > DEADLINE_MS) throw new Error(`${name}: no /healthz within ${DEADLINE_MS} ms`);
      await new Promise((resolve) => setTimeout(resolve, 25));
    }
    return { healthzMs: performance.now() - started, presenterLinkMs, linesBefore };
  } finally {
    process.kill(-child.pid!, 'SIGINT');
    await Promise.race([exited, new Promise((resolve) => setTimeout(resolve, 10_000))]);
    if (child.exitCode === null) process.kill(-child.pid!, 'SIGKILL');
  }
}

const median = (values: number[]) => {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
};

const results: Record<Name, Start[]> = { 'build every start': [], 'npm start': [] };
const loadBefore = loadavg();
for (let run = 1; run <= RUNS; run += 1) {
  for (const name of Object.keys(COMMANDS) as Name[]) {
    const start = await startOnce(name);
    results[name].push(start);
    console.log(`run ${run} ${name}: /healthz ${(start.healthzMs / 1000).toFixed(2)} s, presenter link ${(start.presenterLinkMs / 1000).toFixed(2)} s after ${start.linesBefore} lines`);
  }
}
const loadAfter = loadavg();
console.log(`\nmedians of ${RUNS} runs (load average ${loadBefore.map((l) => l.toFixed(1)).join(' ')} before, ${loadAfter.map((l) => l.toFixed(1)).join(' ')} after):`);
for (const name of Object.keys(COMMANDS) as Name[]) {
  const runs = results[name];
  console.log(
    `  ${name}: /healthz ${(median(runs.map((r) => r.healthzMs)) / 1000).toFixed(2)} s, presenter link ${(median(runs.map((r) => r.presenterLinkMs)) / 1000).toFixed(2)} s, ${median(runs.map((r) => r.linesBefore))} lines before it`,
  );
}
const ratio = median(results['npm start'].map((r) => r.healthzMs)) / median(results['build every start'].map((r) => r.healthzMs));
console.log(`  ratio npm start / build every start (/healthz): ${ratio.toFixed(2)}`);
