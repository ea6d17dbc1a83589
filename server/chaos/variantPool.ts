/**
 * One release variant's pool in a chaos round, and the life of one eval on it:
 * allocate (lua/allocate_executor_fenced-3.lua), work for as long as the tap was
 * held, then the cleanup, delivered at least once: once, twice back to back, or a
 * second time late, after the executor was handed to the next eval. Every
 * operation goes through the history recorder (server/checker/recorder.ts): the
 * real scripts on the real Redis, numbered by Redis in the order it ran them.
 *
 * Nothing here invents an interleaving: the evals of a round are the taps of the
 * hall, started when they arrive and timed by how long each finger was held.
 */
import type { Redis } from 'ioredis';
import { PoolHistoryRecorder } from '../checker/recorder.ts';
import type { ChaosDelivery, ChaosVariant } from '../protocol.ts';

export interface EvalTiming {
  /** How long the eval's task runs on its executor. */
  workMs: number;
  delivery: ChaosDelivery;
}

/** A busy marker's TTL: far longer than a round, so no marker ever runs out under a live owner. */
export const CHAOS_MARKER_TTL_MS = 120_000;
/** A quick tap is one clean delivery; a longer hold, a double one; a long press, a late duplicate. */
export const DOUBLE_FROM_MS = 300;
export const LATE_FROM_MS = 800;
/** A held finger is the task's work time, up to this. */
export const MAX_WORK_MS = 1500;
/** An eval that finds the pool empty asks again this often, this many times, then gives up (it never ran). */
const ALLOCATE_RETRY_MS = 100;
const ALLOCATE_ATTEMPTS = 5;
/** A late cleanup waits for the executor to be handed on, at most this long; then it fires anyway. */
const LATE_WAIT_MS = 2000;
const LATE_POLL_MS = 20;

export function timingOf(holdMs: number): EvalTiming {
  const delivery: ChaosDelivery = holdMs >= LATE_FROM_MS ? 'late' : holdMs >= DOUBLE_FROM_MS ? 'double' : 'once';
  return { workMs: Math.min(holdMs, MAX_WORK_MS), delivery };
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

export class VariantPool {
  /** How many times each executor was allocated: a late cleanup waits for its executor's count to move. */
  private readonly allocations = new Map<string, number>();
  /** Set once the round reads its pools for the last time: no eval may act after the history's last word. */
  stopped = false;

  private constructor(
    readonly variant: ChaosVariant,
    readonly recorder: PoolHistoryRecorder,
  ) {}

  static async start(redis: Redis, pool: string, variant: ChaosVariant, size: number): Promise<VariantPool> {
    return new VariantPool(variant, await PoolHistoryRecorder.start(redis, pool, variant, size));
  }

  get operations(): number {
    return this.recorder.operations.length;
  }

  /** One eval's life; `via` is the connection its "worker" talks over. */
  async live(evalId: string, timing: EvalTiming, via: Redis): Promise<void> {
    const { recorder } = this;
    let allocation = await recorder.allocate(evalId, CHAOS_MARKER_TTL_MS, via);
    for (let attempt = 1; !allocation.reply && attempt < ALLOCATE_ATTEMPTS; attempt++) {
      await sleep(ALLOCATE_RETRY_MS);
      if (this.stopped) return;
      allocation = await recorder.allocate(evalId, CHAOS_MARKER_TTL_MS, via);
    }
    if (!allocation.reply) return;
    const executor = (JSON.parse(allocation.reply[0]) as { url: string }).url;
    const token = allocation.reply[2];
    const handedOut = (this.allocations.get(executor) ?? 0) + 1;
    this.allocations.set(executor, handedOut);

    await sleep(timing.workMs);
    const fire = async (callback: string) => {
      if (this.stopped) return;
      await recorder.callback(evalId, callback, executor, via);
      await recorder.releaseBy(this.variant, evalId, callback, executor, this.variant === 'fenced' ? token : null, via);
    };
    await fire('link');
    if (timing.delivery === 'double') await fire('link_error');
    if (timing.delivery === 'late') {
      const deadline = Date.now() + LATE_WAIT_MS;
      while ((this.allocations.get(executor) ?? 0) === handedOut && Date.now() < deadline) await sleep(LATE_POLL_MS);
      await fire('link_error-late');
    }
  }
}
