/**
 * Chaos rounds against a real Redis: many evals at once on one small pool, each
 * allocating, working for a while and firing its callbacks (once, twice, three
 * times, or a second one late), some of them killed mid-task so only the busy
 * marker's TTL and the reaper can give their executor back. Every operation is
 * recorded as a history (server/checker/recorder.ts) and the history is checked
 * (server/checker/checker.ts). The property tests and `npm run soak` drive this.
 *
 * What is real: Redis, its scripts, replies, TTL expiry and keyspace
 * notifications, the reaper's script, and the interleaving of many connections.
 * What stands in for the task runtime: an eval is an async task of this process
 * with a connection of its "worker"; a kill ends the eval without any callback
 * (its worker is gone), which is what a SIGKILL does to the pool.
 */
import { Redis } from 'ioredis';
import type { ReleaseVariant } from '../pool/executorPool.ts';
import { parseBusyKey } from '../pool/keys.ts';
import { loadScripts } from '../redis/scripts.ts';
import { checkHistory, type CheckResult } from './checker.ts';
import type { PoolHistory } from './history.ts';
import { PoolHistoryRecorder } from './recorder.ts';

export type CallbackPattern = 'once' | 'double' | 'triple' | 'late';

export interface EvalPlan {
  /** When the eval asks for an executor, ms after the round starts. */
  startMs: number;
  /** How long its task runs once it has an executor. */
  workMs: number;
  callbacks: CallbackPattern;
  /** Between the callbacks of a double or triple release. */
  gapMs: number;
  /** How long after the first callback a late one fires. */
  lateMs: number;
  /** Its worker is killed mid-task: no callback runs. */
  killed: boolean;
}

export interface RoundPlan {
  poolSize: number;
  evals: EvalPlan[];
}

export interface ChaosOptions {
  /** Busy-marker TTL of an eval that lives: far beyond any task here, so it never runs out under a live owner. */
  liveTtlMs: number;
  /**
   * What is left of a killed eval's busy-marker TTL when its worker dies: short, so
   * the round sees it expire. Every eval allocates with `liveTtlMs`; the kill cuts
   * the marker's TTL to this, in the transaction that records the kill (a TTL far
   * longer than any task, compressed: the expiry can never come before the kill).
   */
  killedTtlMs: number;
  /** The reaper's sweep period. */
  sweepMs: number;
  /** An eval that finds the pool empty tries again this often, until the round's deadline. */
  retryMs: number;
  /** How long a round may take before it is declared stuck (every wait has a deadline). */
  deadlineMs: number;
}

export const DEFAULT_CHAOS_OPTIONS: ChaosOptions = { liveTtlMs: 60_000, killedTtlMs: 150, sweepMs: 25, retryMs: 3, deadlineMs: 15_000 };

export interface RoundResult {
  history: PoolHistory;
  check: CheckResult;
  /** The order of operations in Redis, as one string: distinct strings are distinct interleavings. */
  interleaving: string;
  faults: { killed: number; expired: number; reclaimed: number; double: number; triple: number; late: number };
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

export class ChaosHarness {
  private readonly expiryHandlers = new Map<string, (executor: string) => void>();
  private rounds = 0;

  private constructor(
    private readonly redis: Redis,
    private readonly subscriber: Redis,
    /** The workers' connections: evals send their operations over these, interleaving at Redis. */
    private readonly workers: Redis[],
    readonly options: ChaosOptions,
  ) {}

  /** Connects to `redisUrl` (a Redis of the caller's own: its notifications and hz are changed). */
  static async connect(redisUrl: string, options: Partial<ChaosOptions> = {}, workerCount = 3): Promise<ChaosHarness> {
    const connect = () => {
      const redis = new Redis(redisUrl, { maxRetriesPerRequest: 1, lazyConnect: true });
      redis.on('error', () => {});
      return redis;
    };
    const redis = connect();
    const subscriber = connect();
    const workers = Array.from({ length: workerCount }, connect);
    await Promise.all([redis, subscriber, ...workers].map((r) => r.connect()));
    for (const r of [redis, ...workers]) loadScripts(r);
    // Expiry notifications, and a faster active-expiry cycle so a short TTL ends when it says.
    await redis.config('SET', 'notify-keyspace-events', 'Ex');
    await redis.config('SET', 'hz', '100');
    const harness = new ChaosHarness(redis, subscriber, workers, { ...DEFAULT_CHAOS_OPTIONS, ...options });
    await subscriber.subscribe('__keyevent@0__:expired');
    subscriber.on('message', (_channel, key: string) => {
      const busy = parseBusyKey(key);
      if (busy) harness.expiryHandlers.get(busy.pool)?.(busy.executor);
    });
    return harness;
  }

  async close(): Promise<void> {
    for (const r of [this.redis, this.subscriber, ...this.workers]) r.disconnect();
  }

  /** Plays one round on a fresh pool of its own and checks its history. */
  async round(plan: RoundPlan, variant: ReleaseVariant, pool = `chaos-${++this.rounds}`): Promise<RoundResult> {
    const { options } = this;
    const deadline = Date.now() + options.deadlineMs;
    const recorder = await PoolHistoryRecorder.start(this.redis, pool, variant, plan.poolSize);
    const faults = { killed: 0, expired: 0, reclaimed: 0, double: 0, triple: 0, late: 0 };
    const background: Promise<unknown>[] = [];
    const reaped = (op: { reply: string[] } | null) => {
      faults.reclaimed += op?.reply.length ?? 0;
    };

    this.expiryHandlers.set(pool, (executor) => {
      faults.expired++;
      background.push(recorder.expiry(executor).then(() => recorder.reclaim('expiry')).then(reaped));
    });
    let sweeping = Promise.resolve();
    const sweeper = setInterval(() => {
      sweeping = sweeping.then(() => recorder.reclaim('sweep').then(reaped, () => {}));
    }, options.sweepMs);

    try {
      await Promise.all(plan.evals.map((evalPlan, i) => this.playEval(recorder, variant, evalPlan, `e${i + 1}`, this.workers[i % this.workers.length]!, deadline, faults)));
      // Quiet: wait (with a deadline) until no busy marker is left, then one last sweep and the final read.
      for (;;) {
        const markers = await this.redis.keys(`idem:{${pool}}:busy:*`);
        if (markers.length === 0 || Date.now() > deadline) break;
        await sleep(10);
      }
    } finally {
      clearInterval(sweeper);
      this.expiryHandlers.delete(pool);
    }
    await sweeping;
    await Promise.all(background);
    reaped(await recorder.reclaim('sweep'));
    await recorder.quiet();

    const history = recorder.history();
    const evalIndex = new Map<string, string>();
    const interleaving = history.operations
      .map((op) => {
        const who = 'evalId' in op ? (evalIndex.get(op.evalId) ?? evalIndex.set(op.evalId, `${evalIndex.size}`).get(op.evalId)) : '';
        return `${op.op}${who}`;
      })
      .join(' ');
    const leftovers = await this.redis.keys(`idem:{${pool}}:*`);
    if (leftovers.length > 0) await this.redis.del(...leftovers);
    return { history, check: checkHistory(history), interleaving, faults };
  }

  private async playEval(
    recorder: PoolHistoryRecorder,
    variant: ReleaseVariant,
    plan: EvalPlan,
    evalId: string,
    worker: Redis,
    deadline: number,
    faults: RoundResult['faults'],
  ): Promise<void> {
    await sleep(plan.startMs);
    let allocation = await recorder.allocate(evalId, this.options.liveTtlMs, worker);
    while (!allocation.reply) {
      if (Date.now() > deadline) return;
      await sleep(this.options.retryMs);
      allocation = await recorder.allocate(evalId, this.options.liveTtlMs, worker);
    }
    const executor = (JSON.parse(allocation.reply[0]) as { url: string }).url;
    const token = allocation.reply[2];
    await sleep(plan.workMs);
    if (plan.killed) {
      faults.killed++;
      await recorder.crash(evalId, executor, { token, ttlMs: this.options.killedTtlMs });
      return;
    }
    const fire = async (callback: string) => {
      await recorder.callback(evalId, callback, executor, worker);
      await recorder.releaseBy(variant, evalId, callback, executor, variant === 'fenced' ? token : null, worker);
    };
    switch (plan.callbacks) {
      case 'once':
        await fire('link');
        break;
      case 'double':
        faults.double++;
        await Promise.all([fire('link'), sleep(plan.gapMs).then(() => fire('link_error'))]);
        break;
      case 'triple':
        faults.triple++;
        await Promise.all([fire('link'), sleep(plan.gapMs).then(() => fire('link_error')), sleep(2 * plan.gapMs).then(() => fire('link_error-retry'))]);
        break;
      case 'late':
        faults.late++;
        await fire('link');
        await sleep(plan.lateMs);
        await fire('link_error');
        break;
    }
  }
}
