/**
 * The demo scenarios, one function each. A scenario plays on its own pool (so the
 * three attempts can be compared side by side on one slide), records every step
 * on the run's timeline, and checks the pool's invariant after every step.
 */
import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import { FaultName, type AnyFaultName, type CeleryFaultName, type ReleaseKind, type RuntimeName, type ScenarioName, type TimelineEvent } from '../protocol.ts';
import type { CeleryRuntime } from '../tasks/celery/celeryRuntime.ts';
import type { EvalRuntime } from '../tasks/evalRuntime.ts';
import type { Logger } from '../log.ts';
import { allocationKeys, parseBusyMarker, type ExecutorPools } from '../pool/executorPool.ts';
import { loadScripts } from '../redis/scripts.ts';
import type { RunRecorder } from './runRecorder.ts';
import { TALK_TEST_FILE, runTalkTest } from './talkTest.ts';
import { playLateDuplicate } from './lateDuplicate.ts';

/** The slice of the task runtime (server/tasks) a scenario uses. */
export type EvalRunner = Pick<EvalRuntime, 'run'>;
/** The slice of the Celery runtime (server/tasks/celery) a scenario uses. */
export type CeleryRunner = Pick<CeleryRuntime, 'run'>;

export interface ScenarioContext {
  pools: ExecutorPools;
  runtime: EvalRunner;
  /** Real Celery workers, for runs that ask for them. */
  celery: CeleryRunner;
  redisUrl: string;
  /** Busy-marker TTL for the TTL demo: seconds, so the audience sees it run out. */
  stageTtlSeconds: number;
  /** Resolves when the reaper puts `executor` of `pool` back; rejects after `timeoutMs`. */
  waitForReclaim(pool: string, executor: string, timeoutMs: number): Promise<'expiry' | 'sweep'>;
  log: Logger;
}

export interface RunOptions {
  release: ReleaseKind;
  /** A BullMQ fault, or a Celery one when `runtime` is celery (the run service checks which). */
  fault: AnyFaultName;
  runtime: RuntimeName;
}

/** A fault both runtimes know, so a scenario's default fits either. */
type SharedFault = FaultName & CeleryFaultName;

export interface Scenario {
  /** The pool it plays on; its own, so runs of different scenarios never meet. */
  pool: string;
  defaults: { release: ReleaseKind; fault: FaultName };
  /** Whether it can run on real Celery workers too (the eval scenarios), or on BullMQ alone. */
  celery: boolean;
  /** What the slide says it shows. */
  title: string;
  /** The releases it can play (default: naive and lua; the fenced one needs the allocation's token, which only some carry). */
  releases?: readonly ReleaseKind[];
  /** Plays the scenario; resolves with the mechanism that fired, in words. */
  play(ctx: ScenarioContext, run: RunRecorder, options: RunOptions): Promise<string | null>;
}

const newEvalId = (label: string) => `eval-${label}-${randomBytes(3).toString('hex')}`;

async function checkStep(ctx: ScenarioContext, run: RunRecorder, after: string, finishedEvals: readonly string[] = []) {
  run.addCheck(await ctx.pools.snapshot(run.record.pool), after, finishedEvals);
}

async function freshPool(ctx: ScenarioContext, run: RunRecorder): Promise<void> {
  const size = await ctx.pools.reset(run.record.pool);
  run.add({ lane: 'redis', kind: 'pool-reset', text: `pool "${run.record.pool}" reset: ${size} executors available`, data: { pool: run.record.pool, size } });
  run.setPoolBefore(await ctx.pools.snapshot(run.record.pool));
}

async function allocate(ctx: ScenarioContext, run: RunRecorder, evalId: string, ttlSeconds?: number) {
  const allocation = await ctx.pools.allocate(run.record.pool, evalId, ttlSeconds);
  if (!allocation) {
    run.add({
      lane: 'redis',
      kind: 'allocate',
      text: `RPOP for ${evalId}: pool empty`,
      data: { evalId, executor: null, ttlSeconds: null, previousOwner: null, token: null, reply: null },
    });
    return null;
  }
  run.add({
    lane: 'redis',
    kind: 'allocate',
    text: `RPOP → ${allocation.executor}; busy marker for ${evalId}, TTL ${allocation.ttlSeconds} s`,
    data: allocation,
  });
  return allocation;
}

/**
 * One eval under a fault, with the callbacks attached that `callbacks` says, then
 * the pool drained by as many evals as it has entries, at once: where it holds a
 * duplicate, two evals are handed the same executor.
 */
function evalScenario(
  title: string,
  pool: string,
  defaults: { release: ReleaseKind; fault: SharedFault },
  callbacks: { link: boolean; linkError: boolean },
): Scenario {
  return {
    pool,
    defaults,
    celery: true,
    title,
    async play(ctx, run, options) {
      await freshPool(ctx, run);
      const evalId = newEvalId('a');
      const allocation = await allocate(ctx, run, evalId);
      if (!allocation) throw new Error('a fresh pool had no executor');
      await checkStep(ctx, run, 'allocation');

      // Releases happen in worker processes; each is counted here once and followed by
      // a check. The checks are chained so they appear in the order of the releases.
      let checks = Promise.resolve();
      const request = {
        runId: run.record.id,
        evalId,
        pool,
        executor: allocation.executor,
        release: options.release,
        callbacks,
        onEvent: (event: TimelineEvent) => {
          const { seq: _seq, ...rest } = event;
          run.add(rest);
          if (event.kind === 'release-reply') {
            const { callback, callbackLane, callbackPid: _pid, release: _release, queue: _queue, jobId: _jobId, ...reply } = event.data;
            ctx.pools.observeRelease(pool, reply, options.release, { log: false });
            checks = checks.then(() => checkStep(ctx, run, `${callback}'s release in ${callbackLane} (${reply.status})`));
          }
        },
      };
      const result =
        options.runtime === 'celery'
          ? await ctx.celery.run({ ...request, fault: options.fault as CeleryFaultName })
          : await ctx.runtime.run({ ...request, fault: bullFault(options) });
      await checks;
      const finished = result.outcome === 'completed' || result.outcome === 'failed' ? [evalId] : [];
      run.add({
        lane: 'server',
        kind: 'eval-finished',
        text: `${evalId} ${result.outcome}; callbacks that ran: ${result.callbacks.map((c) => c.callback).join(', ') || 'none'}`,
        data: { evalId, outcome: result.outcome, callbacks: result.callbacks.map((c) => c.callback) },
      });
      await checkStep(ctx, run, `${evalId} finished`, finished);

      // The next evals, as many as the pool has entries, all at once: where the pool
      // holds a duplicate, two of them are handed the same executor.
      const entries = (await ctx.pools.snapshot(pool)).available.length;
      const next = await Promise.all(Array.from({ length: entries }, (_, i) => allocate(ctx, run, newEvalId(`n${i + 1}`))));
      const holders = new Map<string, string[]>();
      for (const allocation of next) {
        if (allocation) holders.set(allocation.executor, [...(holders.get(allocation.executor) ?? []), allocation.evalId]);
      }
      for (const [executor, evals] of holders) {
        if (evals.length > 1) run.addConflict(executor, evals);
      }
      await checkStep(ctx, run, `the next ${entries} allocations`, finished);
      return result.mechanism;
    },
  };
}

/** The run service lets a BullMQ run through with a BullMQ fault only. */
function bullFault(options: RunOptions): FaultName {
  return FaultName.parse(options.fault);
}

export const SCENARIOS: Record<ScenarioName, Scenario> = {
  'late-duplicate': {
    pool: 'late-duplicate',
    defaults: { release: 'lua', fault: 'none' },
    releases: ['lua', 'fenced', 'naive'],
    celery: false,
    title: "Beyond the talk: a late callback after the executor was handed on (the talk's release vs the fenced one)",
    play: (ctx, run, options) => playLateDuplicate(ctx, run, options),
  },

  'innocent-pattern': evalScenario(
    'Act 1: link + link_error on one eval, under a fault that makes both run',
    'innocent-pattern',
    { release: 'lua', fault: 'result-unstorable' },
    { link: true, linkError: true },
  ),
  'attempt-1': evalScenario('Attempt 1: link_error only', 'attempt-1', { release: 'naive', fault: 'worker-killed' }, { link: false, linkError: true }),
  'attempt-2': evalScenario('Attempt 2: both callbacks, naive release', 'attempt-2', { release: 'naive', fault: 'worker-killed' }, { link: true, linkError: true }),
  'attempt-3': evalScenario('Attempt 3: both callbacks, the Lua release', 'attempt-3', { release: 'lua', fault: 'worker-killed' }, { link: true, linkError: true }),

  'ttl-safety-net': {
    pool: 'ttl-safety-net',
    defaults: { release: 'lua', fault: 'worker-killed-silent' },
    celery: false,
    title: 'Layer 2: the busy marker TTL returns an executor whose worker died with no callback',
    async play(ctx, run, options) {
      await freshPool(ctx, run);
      const evalId = newEvalId('t');
      const allocation = await allocate(ctx, run, evalId, ctx.stageTtlSeconds);
      if (!allocation) throw new Error('a fresh pool had no executor');
      // Listen from now on: on a slow machine the TTL can run out before the run below ends.
      const reclaimed = ctx.waitForReclaim(run.record.pool, allocation.executor, (ctx.stageTtlSeconds + 30) * 1000);
      reclaimed.catch(() => {}); // awaited below; this only keeps an early failure from being "unhandled"
      const result = await ctx.runtime.run({
        runId: run.record.id,
        evalId,
        pool: run.record.pool,
        executor: allocation.executor,
        release: options.release,
        callbacks: { link: true, linkError: true },
        fault: bullFault(options),
        onEvent: (event) => {
          const { seq: _seq, ...rest } = event;
          run.add(rest);
        },
      });
      await checkStep(ctx, run, `${evalId} was lost (${result.outcome})`, [evalId]);
      run.add({
        lane: 'redis',
        kind: 'ttl',
        text: `waiting for ${allocation.executor}'s busy marker to expire (TTL ${allocation.ttlSeconds} s)`,
        data: { executor: allocation.executor, ttlSeconds: allocation.ttlSeconds },
      });
      const via = await reclaimed;
      run.add({
        lane: 'server',
        kind: 'reclaimed',
        text: `busy marker expired; the reaper put ${allocation.executor} back (${via === 'expiry' ? 'keyspace notification' : 'periodic sweep'})`,
        data: { executor: allocation.executor, via },
      });
      await checkStep(ctx, run, 'the reaper');
      return `${result.mechanism}; then the busy marker's TTL ran out and the reaper returned the executor`;
    },
  },

  'atomic-allocation': {
    pool: 'atomic-allocation',
    defaults: { release: 'lua', fault: 'none' },
    celery: false,
    title: 'Layer 4: a burst of concurrent allocations never hands one executor to two evals',
    async play(ctx, run) {
      await freshPool(ctx, run);
      const burst = 24;
      // Separate connections, so the allocations really race at Redis rather than queue on one socket.
      const clients = Array.from({ length: 4 }, () => new Redis(ctx.redisUrl, { maxRetriesPerRequest: 1 }));
      try {
        const racers = clients.map((redis) => loadScripts(redis));
        run.add({
          lane: 'server',
          kind: 'burst',
          text: `${burst} evals ask for an executor at once, over ${clients.length} connections`,
          data: { size: burst, connections: clients.length },
        });
        const replies = await Promise.all(
          Array.from({ length: burst }, async (_, i) => {
            const evalId = `eval-burst-${i + 1}`;
            const ttlSeconds = ctx.pools.busyTtlSeconds;
            // With the highest token the server knows: no token is handed out twice, even after Redis restarted empty.
            const known = ctx.pools.knownToken(run.record.pool);
            const reply = (await racers[i % racers.length]!('allocate_executor_fenced', allocationKeys(run.record.pool), [evalId, ttlSeconds * 1000, known])) as
              | [string, string, number]
              | null;
            return {
              evalId,
              executor: reply ? (JSON.parse(reply[0]) as { url: string }).url : null,
              ttlSeconds: reply ? ttlSeconds : null,
              previousOwner: reply?.[1] ? parseBusyMarker(reply[1]).owner : null,
              token: reply ? reply[2] : null,
              reply,
            };
          }),
        );
        const holders = new Map<string, string[]>();
        for (const reply of replies) {
          run.add({
            lane: 'redis',
            kind: 'allocate',
            text: reply.executor ? `${reply.evalId} ← ${reply.executor}` : `${reply.evalId}: pool empty`,
            data: reply,
          });
          if (reply.executor) holders.set(reply.executor, [...(holders.get(reply.executor) ?? []), reply.evalId]);
        }
        for (const [executor, evals] of holders) {
          if (evals.length > 1) run.addConflict(executor, evals);
        }
        const granted = replies.filter((r) => r.executor).length;
        run.add({
          lane: 'server',
          kind: 'burst-result',
          text: `${granted} granted, ${burst - granted} told the pool is empty; ${holders.size} distinct executors`,
          data: { asked: burst, granted, distinct: holders.size },
        });
        ctx.pools.emit('changed', run.record.pool);
        await checkStep(ctx, run, 'the burst');
        return 'RPOP inside one Lua script: each list entry goes to exactly one caller';
      } finally {
        await Promise.all(clients.map((c) => c.quit().catch(() => c.disconnect())));
      }
    },
  },

  'edge-case-test': {
    pool: 'edge-case-test',
    defaults: { release: 'lua', fault: 'none' },
    celery: false,
    title: "The talk's test, test_double_callback_resilience, run against the live Redis",
    async play(ctx, run) {
      const outcome = await runTalkTest(ctx.redisUrl, run.record.pool, (line, lineType, pid) =>
        run.add({ lane: 'test-runner', pid, kind: 'test-output', text: line, data: { line, lineType } }),
      );
      for (const line of outcome.capturedLogs) run.add({ lane: 'test-runner', kind: 'captured-log', text: line, data: { line } });
      run.add({
        lane: 'server',
        kind: 'test-result',
        text: outcome.passed ? 'test_double_callback_resilience passed' : 'test_double_callback_resilience FAILED',
        data: {
          ...outcome,
          file: TALK_TEST_FILE,
          problem: outcome.passed ? null : `test_double_callback_resilience failed (exit code ${outcome.exitCode})`,
        },
      });
      await checkStep(ctx, run, 'the test');
      return `node's test runner ran tests/integration/talk.test.ts against this server's Redis (pool "${run.record.pool}")`;
    },
  },
};
