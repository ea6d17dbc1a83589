/**
 * Makes operations against one pool and writes them down as a history
 * (server/checker/history.ts), each with the reply Redis gave and its place in
 * Redis' own order: every operation runs in a MULTI together with an INCR of the
 * pool's `history-seq` key, so Redis numbers them as it executes them, whichever
 * connection sent them. Uses the very scripts and keys the server uses.
 */
import type { Redis } from 'ioredis';
import { allocationKeys, executorUrls, fencedReleaseArgs, fencedReleaseKeys, fencedReleaseReply, poolEntry, talkReleaseKeys, type ReleaseVariant } from '../pool/executorPool.ts';
import { poolKeyPrefix, poolKeys } from '../pool/keys.ts';
import { loadScripts } from '../redis/scripts.ts';
import { HISTORY_FORMAT, HISTORY_FORMAT_VERSION, type HistoryOperation, type OperationOf, type PoolHistory } from './history.ts';

/** PEXPIRE the marker only while it is still the dead eval's (an unsafe release may have handed the executor on). */
const CUT_OWN_MARKER = "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('pexpire', KEYS[1], ARGV[2]) end return 0";

type Commands = Record<string, (...args: (string | number)[]) => unknown>;
type Transaction = Commands & { incr(key: string): unknown; del(key: string): unknown; lpush(key: string, value: string): unknown; exec(): Promise<[Error | null, unknown][] | null> };

export class PoolHistoryRecorder {
  readonly operations: HistoryOperation[] = [];
  private readonly seqKey: string;
  private readonly prepared = new WeakSet<Redis>();
  /** Transactions sent whose replies have not come back: the last word waits for them, so it is the last. */
  private readonly inFlight = new Set<Promise<unknown>>();

  constructor(
    /** The connection for operations made by no one in particular (the reaper, the final read). */
    private readonly redis: Redis,
    readonly pool: string,
    readonly release: ReleaseVariant,
    readonly executors: string[],
  ) {
    this.seqKey = `${poolKeyPrefix(pool)}history-seq`;
  }

  /** Resets the pool to `size` fresh executors and starts an empty history. */
  static async start(redis: Redis, pool: string, release: ReleaseVariant, size: number): Promise<PoolHistoryRecorder> {
    const urls = executorUrls(size);
    const recorder = new PoolHistoryRecorder(redis, pool, release, urls);
    const keys = poolKeys(pool);
    const commands = recorder.commands(redis);
    await commands.reset_pool!(keys.available, keys.members, keys.busyPrefix, keys.releaseTimesPrefix, ...urls);
    await redis.del(recorder.seqKey);
    return recorder;
  }

  history(): PoolHistory {
    return {
      format: HISTORY_FORMAT,
      formatVersion: HISTORY_FORMAT_VERSION,
      pool: this.pool,
      executors: this.executors,
      release: this.release,
      operations: [...this.operations].sort((a, b) => a.seq - b.seq),
    };
  }

  async allocate(evalId: string, ttlMs: number, via: Redis = this.redis): Promise<OperationOf<'allocate'>> {
    const reply = await this.transact(via, (tx) => tx.allocate_executor_fenced!(...allocationKeys(this.pool), evalId, ttlMs));
    return this.add({ op: 'allocate', evalId, ttlMs, reply: reply.value as [string, string, number] | null }, reply);
  }

  /** One callback's release of `executor` with `variant`; `token` only for the fenced one. */
  async releaseBy(
    variant: ReleaseVariant,
    evalId: string,
    callback: string,
    executor: string,
    token: number | null,
    via: Redis = this.redis,
  ): Promise<OperationOf<'release'>> {
    const keys = poolKeys(this.pool);
    const reply = await this.transact(via, (tx) => {
      if (variant === 'naive') {
        tx.del(keys.busyPrefix + executor);
        tx.lpush(keys.available, poolEntry(executor));
      } else if (variant === 'lua') {
        tx.release_executor!(...talkReleaseKeys(this.pool, executor), executor, poolEntry(executor));
      } else {
        if (token === null) throw new Error('the fenced release needs the token');
        tx.release_executor_fenced!(...fencedReleaseKeys(this.pool, executor), ...fencedReleaseArgs(executor, { evalId, token }));
      }
    });
    const raw =
      variant === 'naive'
        ? [reply.values[0] as number, reply.values[1] as number]
        : variant === 'fenced'
          ? fencedReleaseReply(executor, reply.value).reply
          : (reply.value as (number | string)[]);
    return this.add({ op: 'release', evalId, callback, executor, variant, token, reply: raw }, reply);
  }

  async callback(evalId: string, callback: string, executor: string, via: Redis = this.redis): Promise<OperationOf<'callback'>> {
    return this.add({ op: 'callback', evalId, callback, executor }, await this.mark(via));
  }

  /**
   * The eval's worker died. With `marker` (its token), the executor's busy marker is
   * set to expire `marker.ttlMs` after the death, in the same transaction, if it is
   * still this eval's: a test compresses "a TTL far longer than the task" into a short
   * wait this way, and the expiry can never come before the death it follows.
   */
  async crash(evalId: string, executor: string, marker?: { token: number; ttlMs: number }): Promise<OperationOf<'crash'>> {
    if (!marker) return this.add({ op: 'crash', evalId, executor }, await this.mark(this.redis));
    const reply = await this.transact(this.redis, (tx) =>
      tx.eval!(CUT_OWN_MARKER, 1, poolKeys(this.pool).busyPrefix + executor, `${evalId}@${marker.token}`, marker.ttlMs),
    );
    return this.add({ op: 'crash', evalId, executor, markerTtlMs: marker.ttlMs }, reply);
  }

  async expiry(executor: string): Promise<OperationOf<'expiry'>> {
    return this.add({ op: 'expiry', executor }, await this.mark(this.redis));
  }

  /** Runs the reaper's script once; a sweep that put nothing back is left out of the history unless `keepEmpty`. */
  async reclaim(via: 'expiry' | 'sweep', options: { keepEmpty?: boolean } = {}): Promise<OperationOf<'reclaim'> | null> {
    const keys = poolKeys(this.pool);
    const reply = await this.transact(this.redis, (tx) => tx.reclaim_executors!(keys.available, keys.members, keys.busyPrefix));
    const executors = reply.value as string[];
    if (executors.length === 0 && !options.keepEmpty) return null;
    return this.add({ op: 'reclaim', via, reply: executors }, reply);
  }

  /** Reads the pool once everything has settled: the history's last word. */
  async quiet(): Promise<OperationOf<'quiet'>> {
    await Promise.allSettled([...this.inFlight]);
    const keys = poolKeys(this.pool);
    const reply = await this.transact(this.redis, (tx) => tx.read_pool!(keys.available, keys.members, keys.busyPrefix));
    const [entries, , busyFlat] = reply.value as [string[], string[], (string | number)[]];
    const busy: Record<string, string> = {};
    for (let i = 0; i < busyFlat.length; i += 3) busy[String(busyFlat[i])] = String(busyFlat[i + 1]);
    const available = entries.map((entry) => {
      try {
        return (JSON.parse(entry) as { url: string }).url;
      } catch {
        return entry;
      }
    });
    return this.add({ op: 'quiet', available, busy }, reply);
  }

  private add<K extends HistoryOperation['op']>(operation: Omit<OperationOf<K>, 'seq' | 'at'> & { op: K }, stamp: { seq: number; at: number }): OperationOf<K> {
    const full = { seq: stamp.seq, at: stamp.at, ...operation } as OperationOf<K>;
    this.operations.push(full);
    return full;
  }

  private commands(via: Redis): Commands {
    if (!this.prepared.has(via)) {
      if (typeof (via as unknown as Commands).allocate_executor_fenced !== 'function') loadScripts(via);
      this.prepared.add(via);
    }
    return via as unknown as Commands;
  }

  /** MULTI; INCR seq; <commands>; EXEC. The seq is where Redis ran them. */
  private async transact(via: Redis, queue: (tx: Transaction) => void): Promise<{ seq: number; at: number; value: unknown; values: unknown[] }> {
    this.commands(via);
    const tx = via.multi() as unknown as Transaction;
    tx.incr(this.seqKey);
    queue(tx);
    const at = Date.now();
    const sent = tx.exec();
    this.inFlight.add(sent);
    const results = await sent.finally(() => this.inFlight.delete(sent));
    if (!results) throw new Error('transaction aborted');
    for (const [error] of results) if (error) throw error;
    const [seq, ...rest] = results.map(([, value]) => value);
    return { seq: Number(seq), at, value: rest[0], values: rest };
  }

  private async mark(via: Redis): Promise<{ seq: number; at: number }> {
    const at = Date.now();
    const sent = via.incr(this.seqKey);
    this.inFlight.add(sent);
    return { seq: await sent.finally(() => this.inFlight.delete(sent)), at };
  }
}
