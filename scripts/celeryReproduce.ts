/**
 * Runs each Celery fault N times (default 5) on real `celery worker` processes and
 * a private redis-server, and prints how often Celery ran which callbacks, counted
 * from Redis (the release replies). What the "Does Celery really do that?" slide
 * reports comes from here:
 *
 *   npm run celery:reproduce                      # every fault, 5 runs each
 *   npm run celery:reproduce -- child-killed 3    # one fault, 3 runs
 *   V=1 npm run celery:reproduce -- time-limit 1  # and every timeline step
 *   MISSES=1 npm run celery:reproduce             # the timelines of the runs that did not reproduce
 *   npm run celery:reproduce -- --write           # every fault, and the tally into demo/celeryReproduced.json
 *   npm run celery:reproduce -- link-v1 result-get --write   # these faults, their tally merged into the file
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { Redis } from 'ioredis';
import { createLogger } from '../server/log.ts';
import { ExecutorPools } from '../server/pool/executorPool.ts';
import { CeleryFaultName } from '../server/protocol.ts';
import { startPrivateRedis } from '../server/redis/privateRedis.ts';
import { loadScripts } from '../server/redis/scripts.ts';
import { createCeleryRuntime } from '../server/tasks/celery/celeryRuntime.ts';
import { CELERY_FAULTS } from '../common/celeryFaults.ts';

const args = process.argv.slice(2);
const write = args.includes('--write');
const named = args.filter((arg) => arg !== '--write' && !/^\d+$/.test(arg)).map((arg) => CeleryFaultName.parse(arg));
const faults = named.length > 0 ? named : CeleryFaultName.options;
const runs = Number(args.find((arg) => /^\d+$/.test(arg)) ?? 5);
const startedAt = Date.now();

const redisServer = await startPrivateRedis();
const redis = new Redis(redisServer.url);
const log = createLogger({ level: 'warn' });
const pools = new ExecutorPools(redis, loadScripts(redis), { busyTtlSeconds: 600, doubleReleaseWindowMs: 1000, defaultSize: 2 }, log);
const celery = createCeleryRuntime({ redisUrl: redisServer.url, log, runTimeoutMs: 30_000 });
const tally: Record<string, { reproduced: number; runs: number; seen: string[]; measuredAt: string }> = {};
try {
  for (const fault of faults) {
    const expected = CELERY_FAULTS[fault].expected;
    let reproduced = 0;
    const seen: string[] = [];
    for (let i = 0; i < runs; i++) {
      await pools.reset('reproduce', 2);
      const allocation = await pools.allocate('reproduce', `eval-${i}`);
      const result = await celery.run({
        runId: `reproduce-${fault}-${i}`,
        evalId: `eval-${i}`,
        pool: 'reproduce',
        executor: allocation!.executor,
        release: 'lua',
        callbacks: { link: true, linkError: true },
        fault,
      });
      const link = result.callbacks.filter((c) => c.callback === 'link').length;
      const linkError = result.callbacks.filter((c) => c.callback === 'link_error').length;
      if (link === expected.link && linkError === expected.linkError && result.outcome !== 'timed-out') reproduced++;
      seen.push(`${result.outcome}: link×${link} link_error×${linkError}`);
      const ok = link === expected.link && linkError === expected.linkError && result.outcome !== 'timed-out';
      if (process.env.V || (!ok && process.env.MISSES)) for (const e of result.events) console.log(`  +${e.at - result.startedAt}ms ${e.seq} ${e.lane} ${e.pid ?? ''} ${e.kind}: ${e.text}`);
    }
    tally[fault] = { reproduced, runs, seen, measuredAt: new Date().toISOString() };
    console.log(`${fault}: ${reproduced}/${runs} (expected link×${expected.link} link_error×${expected.linkError}) — ${seen.join('; ')}`);
  }
  if (write) {
    const versions = execFileSync('/usr/bin/python3', ['-c', 'import celery, kombu, billiard, redis; print(celery.__version__, kombu.__version__, billiard.__version__, redis.__version__)'])
      .toString()
      .trim()
      .split(' ');
    const file = new URL('../demo/celeryReproduced.json', import.meta.url);
    // Some faults measured again: the others keep their tally (each says when it was measured).
    const kept = named.length > 0 && existsSync(file) ? (JSON.parse(readFileSync(file, 'utf8')) as { faults: Record<string, unknown> }).faults : {};
    const merged = Object.fromEntries(CeleryFaultName.options.flatMap((fault) => (tally[fault] ?? kept[fault] ? [[fault, tally[fault] ?? kept[fault]]] : [])));
    const measured = { measuredAt: new Date().toISOString(), command: 'npm run celery:reproduce -- --write', versions: { celery: versions[0], kombu: versions[1], billiard: versions[2], redisPy: versions[3] }, faults: merged };
    writeFileSync(file, `${JSON.stringify(measured, null, 2)}\n`);
    console.log(`wrote ${file.pathname}`);
  }
  console.log(`${faults.length} fault(s) × ${runs} runs in ${Math.round((Date.now() - startedAt) / 1000)} s`);
} finally {
  await celery.close();
  await redis.quit();
  await redisServer.stop();
}
