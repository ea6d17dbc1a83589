/**
 * One chaos round: three pools of its own (one per release variant, each under
 * its own hash tag), the evals the hall's taps started on them, the counts kept
 * in Redis, and the history checker's verdict, live and at the end.
 *
 * Live, the checker (on a thread of its own: server/chaos/checkWorker.ts) reads
 * each variant's history up to the first gap in Redis' numbering (an operation
 * Redis has run but whose reply is still on its way), so it never judges a
 * history with a hole in it. At the end, once every eval is
 * over, each pool is read once more (the history's `quiet` last word), the full
 * histories are checked, serialized and gzipped once (on the checker's thread),
 * summary and histories are written to Redis, and the pools are deleted. The
 * histories stay.
 */
import type { Redis } from 'ioredis';
import { checkHistory } from '../checker/checker.ts';
import type { PoolHistory } from '../checker/history.ts';
import { poolKeyPrefix } from '../pool/keys.ts';
import {
  CHAOS_VARIANTS,
  type ChaosDelivery,
  type ChaosRoundState,
  type ChaosRoundStatus,
  type ChaosTapReply,
  type ChaosVariant,
  type ChaosVariantScore,
} from '../protocol.ts';
import { summarizeCheck, type CheckSummary } from './checkSummary.ts';
import { buildArchive, storeArchive, type ArchivePart, type HistoryArchive } from './historyArchive.ts';
import { RoundChecker } from './roundChecker.ts';
import { timingOf, VariantPool } from './variantPool.ts';

export interface ChaosRoundOptions {
  /** Executors per pool: few, so the hall's evals contend for them. */
  poolSize: number;
  /** How long the round waits for its evals to end after it closes (every wait has a deadline). */
  settleMs: number;
  /** How long summary and histories stay in Redis. */
  keepSeconds: number;
}

const perVariant = <T>(make: (variant: ChaosVariant) => T): Record<ChaosVariant, T> =>
  ({ naive: make('naive'), lua: make('lua'), fenced: make('fenced') });

/** Redis keys of a round's own records (not its pools): one hash tag, the round's id. */
export function roundKeys(id: string) {
  const base = `chaos:{${id}}:`;
  return { counts: `${base}counts`, participants: `${base}participants`, summary: `${base}summary`, history: `${base}history-gzip` };
}

export function poolOf(id: string, variant: ChaosVariant): string {
  return `c-${id}-${variant}`;
}

export class ChaosRound {
  status: ChaosRoundStatus = 'open';
  readonly closesAt: number;
  private taps = 0;
  private readonly deliveries: Record<ChaosDelivery, number> = { once: 0, double: 0, late: 0 };
  private readonly lives = new Set<Promise<void>>();
  private readonly checks: Record<ChaosVariant, CheckSummary | null> = perVariant(() => null);
  private readonly checker: RoundChecker;
  /** Counts not yet written to Redis, and what Redis said at the last flush. */
  private pending = { taps: 0, participants: new Set<string>(), operations: perVariant(() => 0) };
  private flushed = { taps: 0, participants: 0, operations: perVariant(() => 0) };
  private readonly series: ChaosRoundState['series'] = [];
  private readonly recent: { at: number; taps: number; operations: number }[] = [];
  /** The finished round's histories as downloaded (gzipped JSON); null until the round is done. */
  private archive: HistoryArchive | null = null;
  private worker = 0;

  private constructor(
    readonly id: string,
    readonly seconds: number,
    readonly openedAt: number,
    private readonly redis: Redis,
    /** The evals' connections: evals spread over them, so their operations interleave at Redis. */
    private readonly workers: Redis[],
    readonly pools: Record<ChaosVariant, VariantPool>,
    private readonly options: ChaosRoundOptions,
  ) {
    this.closesAt = openedAt + seconds * 1000;
    this.checker = new RoundChecker(new Map(CHAOS_VARIANTS.map((v) => [v, () => pools[v].recorder.history()])));
  }

  static async open(id: string, seconds: number, redis: Redis, workers: Redis[], options: ChaosRoundOptions): Promise<ChaosRound> {
    const pools = {} as Record<ChaosVariant, VariantPool>;
    for (const variant of CHAOS_VARIANTS) pools[variant] = await VariantPool.start(redis, poolOf(id, variant), variant, options.poolSize);
    return new ChaosRound(id, seconds, Date.now(), redis, workers, pools, options);
  }

  isOpen(now = Date.now()): boolean {
    return this.status === 'open' && now < this.closesAt;
  }

  /** One tap: one eval's life on each pool at once, timed by the hold. */
  tap(viewerId: string, holdMs: number): ChaosTapReply {
    const tap = ++this.taps;
    const timing = timingOf(holdMs);
    this.deliveries[timing.delivery]++;
    this.pending.taps++;
    this.pending.participants.add(viewerId);
    const via = this.workers[this.worker++ % this.workers.length]!;
    for (const variant of CHAOS_VARIANTS) {
      const life: Promise<void> = this.pools[variant]
        .live(`t${tap}`, timing, via)
        .catch(() => {})
        .finally(() => this.lives.delete(life));
      this.lives.add(life);
    }
    return { tap, delivery: timing.delivery };
  }

  get inFlight(): number {
    return this.lives.size;
  }

  /** Once per tick: the counts to Redis in one round trip, and back what Redis holds (every server's share). */
  async flush(now = Date.now()): Promise<void> {
    const keys = roundKeys(this.id);
    const tx = this.redis.multi();
    if (this.pending.taps > 0) tx.hincrby(keys.counts, 'taps', this.pending.taps);
    for (const variant of CHAOS_VARIANTS) {
      const total = this.pools[variant].operations;
      const delta = total - this.pending.operations[variant];
      if (delta > 0) tx.hincrby(keys.counts, `operations:${variant}`, delta);
      this.pending.operations[variant] = total;
    }
    if (this.pending.participants.size > 0) tx.sadd(keys.participants, ...this.pending.participants);
    tx.hgetall(keys.counts);
    tx.scard(keys.participants);
    tx.expire(keys.counts, this.options.keepSeconds);
    tx.expire(keys.participants, this.options.keepSeconds);
    this.pending.taps = 0;
    this.pending.participants = new Set();
    const results = await tx.exec();
    if (!results) return;
    const counts = (results.at(-4)?.[1] ?? {}) as Record<string, string>;
    this.flushed = {
      taps: Number(counts.taps ?? 0),
      participants: Number(results.at(-3)?.[1] ?? 0),
      operations: perVariant((v) => Number(counts[`operations:${v}`] ?? 0)),
    };
    const operations = CHAOS_VARIANTS.reduce((sum, v) => sum + this.flushed.operations[v], 0);
    this.recent.push({ at: now, taps: this.flushed.taps, operations });
    while (this.recent.length > 2 && this.recent[0]!.at < now - 1000) this.recent.shift();
  }

  /** The checker over each variant's history so far (its gapless prefix), on the checker's thread. */
  async checkLive(timeoutMs: number): Promise<void> {
    this.checker.post(new Map(CHAOS_VARIANTS.map((v) => [v, this.pools[v].recorder.operations])));
    const results = await this.checker.check(false, timeoutMs);
    if (this.status !== 'open') return;
    for (const variant of CHAOS_VARIANTS) this.checks[variant] = results[variant] ?? this.checks[variant];
  }

  /** Adds the chart's point for now (one per second is plenty). */
  mark(now = Date.now()): void {
    const t = Math.round((now - this.openedAt) / 1000);
    if (this.series.at(-1)?.t === t) this.series.pop();
    this.series.push({
      t,
      operations: perVariant((v) => this.pools[v].operations),
      violations: perVariant((v) => this.checks[v]?.violations ?? 0),
    });
  }

  /** Closes the round: waits (bounded) for its evals, checks the full histories, writes summary and histories, deletes the pools. */
  async finish(): Promise<void> {
    if (this.status !== 'open') return;
    this.status = 'settling';
    const deadline = new Promise((resolve) => setTimeout(resolve, this.options.settleMs).unref());
    await Promise.race([Promise.allSettled([...this.lives]), deadline]);
    // An eval still going now is cut off (its executor stays busy: the checker will say so).
    for (const variant of CHAOS_VARIANTS) this.pools[variant].stopped = true;
    await Promise.race([Promise.allSettled([...this.lives]), new Promise((resolve) => setTimeout(resolve, 2000).unref())]);
    for (const variant of CHAOS_VARIANTS) await this.pools[variant].recorder.quiet();
    this.checker.post(new Map(CHAOS_VARIANTS.map((v) => [v, this.pools[v].recorder.operations])));
    const final = await this.checker.check(true, 60_000);
    const archived = await this.checker.archive(60_000);
    await this.checker.close();
    // Should the checker's thread have failed, check and archive run here: the summary must come from
    // the whole history, and the download must exist (this blocks the loop, so only as a fallback).
    let histories: PoolHistory[] | null = null;
    const whole = () => (histories ??= CHAOS_VARIANTS.map((v) => this.pools[v].recorder.history()));
    CHAOS_VARIANTS.forEach((v, i) => (this.checks[v] = final[v] ?? summarizeCheck(checkHistory(whole()[i]!))));
    this.archive = archived ?? buildArchive(whole());
    await this.flush();
    this.status = 'done';
    this.mark();
    const keys = roundKeys(this.id);
    const tx = this.redis.multi().set(keys.summary, JSON.stringify(this.state()), 'EX', this.options.keepSeconds);
    storeArchive(tx, keys.history, this.archive, this.options.keepSeconds);
    await tx.exec();
    for (const variant of CHAOS_VARIANTS) await deletePool(this.redis, poolOf(this.id, variant));
  }

  /** The server is going away: the round's evals stop, its checker's thread ends. */
  async destroy(): Promise<void> {
    for (const variant of CHAOS_VARIANTS) this.pools[variant].stopped = true;
    await this.checker.close();
  }

  /** The three histories (naive, lua, fenced), or one, gzipped JSON; null until the round is done. */
  historyPart(part: ArchivePart): Buffer | null {
    return this.archive?.[part] ?? null;
  }

  score(variant: ChaosVariant): ChaosVariantScore {
    const check = this.checks[variant];
    return {
      operations: this.status === 'done' ? this.pools[variant].operations : Math.max(this.flushed.operations[variant], check?.operations ?? 0),
      violations: check?.violations ?? 0,
      firstViolation: check?.first ?? null,
    };
  }

  state(now = Date.now()): ChaosRoundState {
    const first = this.recent[0];
    const last = this.recent.at(-1);
    const span = first && last && last.at > first.at ? (last.at - first.at) / 1000 : 0;
    return {
      id: this.id,
      status: this.status,
      seconds: this.seconds,
      openedAt: this.openedAt,
      closesAt: this.closesAt,
      participants: Math.max(this.flushed.participants, this.pending.participants.size),
      taps: Math.max(this.flushed.taps, this.taps - this.pending.taps),
      tapsPerSecond: span > 0 ? Math.round((last!.taps - first!.taps) / span) : 0,
      operationsPerSecond: span > 0 ? Math.round((last!.operations - first!.operations) / span) : 0,
      deliveries: { ...this.deliveries },
      variants: perVariant((v) => this.score(v)),
      series: [...this.series],
      historyUrl: this.status === 'done' ? `/api/chaos/rounds/${this.id}/history` : null,
      at: now,
    };
  }
}

/** Deletes every key of a pool (its hash tag): SCAN, never KEYS, so Redis never stalls on it. */
export async function deletePool(redis: Redis, pool: string): Promise<void> {
  const pattern = `${poolKeyPrefix(pool).replace(/[{}[\]*?]/g, (c) => `\\${c}`)}*`;
  let cursor = '0';
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', pattern, 'COUNT', 500);
    cursor = next;
    if (keys.length > 0) await redis.unlink(...keys);
  } while (cursor !== '0');
}
