/**
 * Shutdown, as a process manager and a terminal do it: a real `npm start` child
 * (server, private Redis, worker processes), signalled as a whole. It finds the
 * suite's built deck current (build/deckInputs.ts) and serves it as it is, so the
 * test files running alongside keep reading dist/ undisturbed. Everything
 * it started must be gone within 5 s; the queued runs are cancelled and say so, the
 * run in flight is cut short.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { isPortOpen, pollUntil } from '../support/redis.ts';
import { withDeadline } from '../support/deadline.ts';
import { isAlive } from '../support/processes.ts';
import { ensureDeckBuilt } from '../../tools/builtDeck.ts';
import type { RunRecord, RunSummary } from '../../server/protocol.ts';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const STOP_WITHIN_MS = 5_000;
const START_DEADLINE_MS = 90_000;

interface Started {
  npm: ChildProcess;
  lines: Record<string, unknown>[];
  url: string;
  serverPid: number;
  workerPids: number[];
  redisPort: number;
  exited: Promise<void>;
}


async function npmStart(): Promise<Started> {
  const env: NodeJS.ProcessEnv = { ...process.env, PORT: '0', HOST: '127.0.0.1', TASK_WORKERS: '2', PRESENTER_SECRET: 'shutdown-test-secret', LOG_LEVEL: 'info' };
  delete env.REDIS_URL;
  // Its own process group, as a terminal gives a foreground job: Ctrl-C signals the group.
  await ensureDeckBuilt();
  const npm = spawn('npm', ['start'], { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
  const lines: Record<string, unknown>[] = [];
  let buffered = '';
  let stderr = '';
  npm.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  // Over when npm has exited and everything its processes wrote has been read.
  const exited = Promise.all([
    new Promise<void>((resolve) => npm.once('exit', () => resolve())),
    new Promise<void>((resolve) => npm.stdout!.once('close', () => resolve())),
  ]).then(() => {});
  const live = new Promise<Record<string, unknown>>((resolve, reject) => {
    npm.stdout!.on('data', (chunk: Buffer) => {
      buffered += chunk.toString();
      const parts = buffered.split('\n');
      buffered = parts.pop()!;
      for (const part of parts) {
        if (!part.startsWith('{')) continue;
        const line = JSON.parse(part) as Record<string, unknown>;
        lines.push(line);
        if (line.msg === 'The Idempotency Challenge is live') resolve(line);
      }
    });
    npm.once('exit', (code) => reject(new Error(`npm start exited (${code}) before the site was live: ${stderr}`)));
  });
  const ready = await withDeadline(live, START_DEADLINE_MS, 'npm start to say the site is live');
  const redisUrl = lines.find((l) => l.msg === 'started a private redis-server')?.url as string;
  return {
    npm,
    lines,
    url: String(ready.url).replace(/\/$/, ''),
    serverPid: Number(ready.pid),
    workerPids: lines.filter((l) => l.msg === 'worker process ready').map((l) => Number(l.pid)),
    redisPort: Number(new URL(redisUrl).port),
    exited,
  };
}

/** Waits until nothing `npm start` started is left: npm, the server, its workers, its Redis. */
async function allGone(started: Started): Promise<number> {
  const t0 = Date.now();
  await withDeadline(started.exited, STOP_WITHIN_MS, 'npm to exit');
  await pollUntil(async () => !isAlive(started.serverPid), STOP_WITHIN_MS, `server pid ${started.serverPid} to exit`);
  for (const pid of started.workerPids) await pollUntil(async () => !isAlive(pid), STOP_WITHIN_MS, `worker pid ${pid} to exit`);
  await pollUntil(async () => !(await isPortOpen(started.redisPort)), STOP_WITHIN_MS, `redis on ${started.redisPort} to stop`);
  return Date.now() - t0;
}

function cleanUp(started: Started | undefined): void {
  if (!started) return;
  for (const pid of [started.npm.pid, started.serverPid, ...started.workerPids]) {
    if (pid && isAlive(pid)) process.kill(pid, 'SIGKILL');
  }
}

async function startRun(url: string): Promise<RunSummary> {
  const response = await fetch(`${url}/api/scenarios/attempt-3/runs`, {
    method: 'POST',
    // The presenter picks faults.
    headers: { 'content-type': 'application/json', authorization: 'Bearer shutdown-test-secret' },
    body: JSON.stringify({ fault: 'worker-killed' }),
  });
  assert.equal(response.status, 202);
  return (await response.json()) as RunSummary;
}

test('SIGTERM to npm start, 1 run in flight and 5 queued: everything stops within 5 s, the queued runs cancelled', { timeout: 150_000 }, async () => {
  let started: Started | undefined;
  try {
    started = await npmStart();
    assert.equal(started.workerPids.length, 2);
    assert.ok(isAlive(started.serverPid) && (await isPortOpen(started.redisPort)));
    const first = await startRun(started.url);
    // In flight: its eval job is on a worker.
    await pollUntil(
      async () => ((await (await fetch(`${started!.url}/api/runs/${first.id}`)).json()) as RunRecord).events.some((e) => e.kind === 'picked-up'),
      30_000,
      'the first run to be picked up by a worker',
    );
    const queued: string[] = [];
    for (let i = 0; i < 5; i++) queued.push((await startRun(started.url)).id);

    const sent = Date.now();
    process.kill(started.npm.pid!, 'SIGTERM');
    await allGone(started);
    const tookMs = Date.now() - sent;
    assert.ok(tookMs < STOP_WITHIN_MS, `stopped in ${tookMs} ms`);

    const cancelled = started.lines.filter((l) => l.msg === 'queued run cancelled').map((l) => l.runId);
    assert.deepEqual(cancelled.sort(), [...queued].sort(), 'every queued run was cancelled, and logged');
    assert.ok(started.lines.every((l) => l.msg !== 'scenario run failed'), 'no run failed for another reason');
    assert.ok(
      started.lines.some((l) => /^run in flight (cut short|failed)$/.test(String(l.msg)) && l.runId === first.id) ||
        started.lines.some((l) => l.msg === 'eval run finished' && l.runId !== undefined),
      'the run in flight was cut short (or had just finished)',
    );
    assert.ok(started.lines.some((l) => l.msg === 'stopped'), 'the server said it stopped cleanly');
  } finally {
    cleanUp(started);
  }
});

test('Ctrl-C (SIGINT to the whole foreground group): everything stops within 5 s, no worker restarted meanwhile', { timeout: 150_000 }, async () => {
  let started: Started | undefined;
  try {
    started = await npmStart();
    const sent = Date.now();
    process.kill(-started.npm.pid!, 'SIGINT');
    await allGone(started);
    const tookMs = Date.now() - sent;
    assert.ok(tookMs < STOP_WITHIN_MS, `stopped in ${tookMs} ms`);
    assert.ok(!started.lines.some((l) => l.msg === 'worker process died; restarting it'), 'the workers were stopped by the server, not by the signal');
    assert.ok(started.lines.some((l) => l.msg === 'stopped'), `the server said it stopped cleanly: ${started.lines.map((l) => l.msg).slice(-8).join(' / ')}`);
  } finally {
    cleanUp(started);
  }
});
