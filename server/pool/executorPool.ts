/**
 * The executor pools, as Redis holds them. One object serves every pool by name;
 * each operation is one Lua script (or, for the naive release the talk warns
 * against, the plain commands it would use), and every change is announced to
 * listeners so HTTP and socket callers alike reach every viewer.
 */
import { EventEmitter } from 'node:events';
import type { Redis } from 'ioredis';
import type { Logger } from '../log.ts';
import type { RunScript } from '../redis/scripts.ts';
import type { AllocateReply, DoubleReleaseWarning, PoolSnapshot, ReleaseReply, ReleaseStatus } from '../protocol.ts';
import { poolKeys } from './keys.ts';
import { WarningAggregator } from './warningAggregator.ts';

export interface PoolOptions {
  /** TTL of a busy marker: the safety net when every callback is lost. */
  busyTtlSeconds: number;
  /** Two releases of one executor closer than this are a double release. */
  doubleReleaseWindowMs: number;
  /** Executors in a pool made by `reset` without a size. */
  defaultSize: number;
}

export interface PoolEvents {
  changed: [pool: string];
  released: [pool: string, reply: ReleaseReply, kind: ReleaseVariant];
  'double-release': [warning: DoubleReleaseWarning];
  reclaimed: [pool: string, executors: string[], via: 'expiry' | 'sweep'];
}

/** A request that names something the pool does not have: a client error, nothing changed. */
export class PoolInputError extends Error {
  override name = 'PoolInputError';
}

/** Which release ran: the talk's Lua script, the naive DEL + LPUSH, or the fenced script. */
export type ReleaseVariant = 'lua' | 'naive' | 'fenced';

/** A busy marker's value, `<eval id>@<token>` (see lua/includes/busyMarker.lua), split; a marker without a token is all owner. */
export function parseBusyMarker(marker: string): { owner: string; token: number | null } {
  const match = /^(.*)@(\d+)$/.exec(marker);
  return match ? { owner: match[1]!, token: Number(match[2]) } : { owner: marker, token: null };
}

export function executorUrls(size: number): string[] {
  return Array.from({ length: size }, (_, i) => `executor-${i + 1}`);
}

export function poolEntry(executor: string): string {
  return JSON.stringify({ url: executor });
}

function entryUrl(entry: string): string {
  try {
    const item = JSON.parse(entry) as { url?: unknown };
    return typeof item.url === 'string' ? item.url : entry;
  } catch {
    return entry;
  }
}

/** The keys of lua/allocate_executor_fenced-3.lua for `pool`. */
export function allocationKeys(pool: string): string[] {
  const keys = poolKeys(pool);
  return [keys.available, keys.tokenCounter, keys.busyPrefix];
}

/** The keys of lua/release_executor_fenced-2.lua for one executor of `pool`. */
export function fencedReleaseKeys(pool: string, executor: string): string[] {
  const keys = poolKeys(pool);
  return [keys.busyPrefix + executor, keys.available];
}

/** The arguments of lua/release_executor_fenced-2.lua: the entry to push, and the owner as its marker names it. */
export function fencedReleaseArgs(executor: string, owner: FencedOwner): string[] {
  return [poolEntry(executor), busyMarker(owner)];
}

/** Who releases with the fenced release: the eval and the token its allocation handed out. */
export interface FencedOwner {
  evalId: string;
  token: number;
}

/** The busy marker an allocation writes for `owner` (lua/includes/busyMarker.lua). */
export function busyMarker(owner: FencedOwner): string {
  return `${owner.evalId}@${owner.token}`;
}

/**
 * The fenced release's reply as Redis sent it ("released", or ["stale_release",
 * held_token]), or as a history stored it (["released"]), as the ReleaseReply every
 * release answers with; its `reply` is always the array form. Anything else is a
 * script this server does not know: an error, not a guess.
 */
export function fencedReleaseReply(executor: string, raw: unknown): ReleaseReply {
  let status: 'released' | 'stale_release';
  let reply: (string | number)[];
  if (raw === 'released' || (Array.isArray(raw) && raw.length === 1 && raw[0] === 'released')) [status, reply] = ['released', ['released']];
  else if (Array.isArray(raw) && raw[0] === 'stale_release' && typeof raw[1] === 'number') [status, reply] = ['stale_release', ['stale_release', raw[1]]];
  else throw new Error(`unexpected reply from release_executor_fenced: ${JSON.stringify(raw)}`);
  const released = status === 'released' ? 1 : 0;
  return { executor, wasBusy: released, added: released, status, reply, doubleRelease: false, sinceLastReleaseMs: null };
}

/** The keys of lua/release_executor.lua (the talk's) for one executor of `pool`. */
export function talkReleaseKeys(pool: string, executor: string): string[] {
  const keys = poolKeys(pool);
  return [keys.busyPrefix + executor, keys.available, keys.releaseTimesPrefix + executor];
}

export class ExecutorPools extends EventEmitter<PoolEvents> {
  /** `Double release detected`, once per executor and window, with a count of the rest. */
  readonly warnings: WarningAggregator;
  /**
   * Per pool, the highest fencing token this server saw handed out (by itself, in a
   * snapshot, or relayed by another instance). Redis' counter can be lost with Redis;
   * this is what keeps the next token above every earlier one.
   */
  private readonly knownTokens = new Map<string, number>();

  constructor(
    private readonly redis: Redis,
    private readonly runScript: RunScript,
    private readonly options: PoolOptions,
    private readonly log: Logger,
  ) {
    super();
    this.warnings = new WarningAggregator(log);
  }

  get busyTtlSeconds(): number {
    return this.options.busyTtlSeconds;
  }

  async snapshot(pool: string): Promise<PoolSnapshot> {
    const keys = poolKeys(pool);
    const [entries, executors, busyFlat] = (await this.runScript('read_pool', [keys.available, keys.members, keys.busyPrefix], [])) as [
      string[],
      string[],
      (string | number)[],
    ];
    const busy: Record<string, string> = {};
    const busyTtlMs: Record<string, number> = {};
    const busyToken: Record<string, number> = {};
    for (let i = 0; i < busyFlat.length; i += 3) {
      const url = String(busyFlat[i]);
      const { owner, token } = parseBusyMarker(String(busyFlat[i + 1]));
      busy[url] = owner;
      if (token !== null) busyToken[url] = token;
      busyTtlMs[url] = Number(busyFlat[i + 2]);
    }
    this.noteTokens(pool, Object.values(busyToken));
    return { pool, available: entries.map(entryUrl), busy, busyTtlMs, busyToken, executors, readAt: Date.now() };
  }

  /**
   * Takes an executor for `evalId` (atomic RPOP + busy marker with TTL + a fencing
   * token, O(1) in pool size); null when the pool is empty. `ttlSeconds` may be a
   * fraction: the marker's TTL is set in milliseconds.
   */
  async allocate(pool: string, evalId: string, ttlSeconds = this.options.busyTtlSeconds): Promise<AllocateReply | null> {
    const reply = (await this.runScript('allocate_executor_fenced', allocationKeys(pool), [
      evalId,
      Math.max(1, Math.round(ttlSeconds * 1000)),
      this.knownToken(pool),
    ])) as [string, string, number] | null;
    if (!reply) return null;
    const [entry, previousMarker, token] = reply;
    this.noteTokens(pool, [token]);
    const allocation: AllocateReply = {
      executor: entryUrl(entry),
      evalId,
      ttlSeconds,
      previousOwner: previousMarker === '' ? null : parseBusyMarker(previousMarker).owner,
      token,
      reply: [entry, previousMarker, token],
    };
    if (allocation.previousOwner) {
      this.log.error('Executor handed to two evals', { pool, executor: allocation.executor, evalId, previousOwner: allocation.previousOwner });
    }
    this.emit('changed', pool);
    return allocation;
  }

  /** The highest fencing token of `pool` this server knows was handed out (0: none). */
  knownToken(pool: string): number {
    return this.knownTokens.get(pool) ?? 0;
  }

  /** Tokens handed out in `pool`, seen elsewhere (another instance's change, a run's allocation). */
  noteTokens(pool: string, tokens: Iterable<number>): void {
    let highest = this.knownToken(pool);
    for (const token of tokens) if (token > highest) highest = token;
    if (highest > 0) this.knownTokens.set(pool, highest);
  }

  /**
   * Redis is back, perhaps empty: its token counter is raised to the highest token this
   * server knows, so even an allocation that brings no known token gets a new one.
   */
  async raiseTokenCounter(pool: string): Promise<void> {
    const known = this.knownToken(pool);
    if (known > 0) await this.runScript('raise_token_counter', [poolKeys(pool).tokenCounter], [known]);
  }

  /** The talk's idempotent release: one atomic Lua script (lua/release_executor.lua), which scans the list. */
  async release(pool: string, executor: string): Promise<ReleaseReply> {
    await this.assertMember(pool, executor);
    const raw = (await this.runScript('release_executor', talkReleaseKeys(pool, executor), [executor, poolEntry(executor)])) as [number, number, string, number, number];
    const [wasBusy, added, status, nowMs, previousMs] = raw;
    const sinceLastReleaseMs = previousMs >= 0 ? nowMs - previousMs : null;
    const reply: ReleaseReply = {
      executor,
      wasBusy: wasBusy === 1 ? 1 : 0,
      added: added === 1 ? 1 : 0,
      status: status as ReleaseStatus,
      reply: [wasBusy, added, status, nowMs, previousMs],
      doubleRelease: sinceLastReleaseMs !== null && sinceLastReleaseMs < this.options.doubleReleaseWindowMs,
      sinceLastReleaseMs,
    };
    this.observeRelease(pool, reply, 'lua');
    return reply;
  }

  /**
   * The fenced release: frees `executor` only while its busy marker names `owner`
   * (the eval and the token its allocation handed out); otherwise `stale_release`,
   * nothing changed. O(1) in pool size, and it writes nothing unless the owner
   * matches, so it needs no membership check first.
   */
  async releaseFenced(pool: string, executor: string, owner: FencedOwner): Promise<ReleaseReply> {
    const reply = fencedReleaseReply(executor, await this.runScript('release_executor_fenced', fencedReleaseKeys(pool, executor), fencedReleaseArgs(executor, owner)));
    this.observeRelease(pool, reply, 'fenced');
    return reply;
  }

  /**
   * Counts a release and raises the double-release warning. Releases made in this
   * process call it themselves; releases made by a worker process (the task
   * runtime's callbacks) are reported here by the server, so one place counts all.
   */
  observeRelease(pool: string, reply: ReleaseReply, kind: ReleaseVariant, options: { log?: boolean } = {}): void {
    if (reply.doubleRelease && reply.sinceLastReleaseMs !== null) {
      this.reportDoubleRelease(pool, reply.executor, reply.sinceLastReleaseMs, options.log ?? true);
    }
    this.emit('released', pool, reply, kind);
    this.emit('changed', pool);
  }

  /** Puts back every executor that is neither busy nor available (see lua/reclaim_executors.lua). */
  async reclaim(pool: string, via: 'expiry' | 'sweep'): Promise<string[]> {
    const keys = poolKeys(pool);
    const executors = (await this.runScript('reclaim_executors', [keys.available, keys.members, keys.busyPrefix], [])) as string[];
    if (executors.length > 0) {
      this.log.info('Executors reclaimed after their busy marker expired', { pool, executors, via });
      this.emit('reclaimed', pool, executors, via);
      this.emit('changed', pool);
    }
    return executors;
  }

  /**
   * The naive release of the talk's attempt 2: delete the marker, push the entry.
   * Two calls put the executor in the pool twice. Kept to show (and test) the failure.
   */
  async releaseNaive(pool: string, executor: string): Promise<ReleaseReply> {
    await this.assertMember(pool, executor);
    const keys = poolKeys(pool);
    const [[, wasBusy], [, length]] = (await this.redis
      .multi()
      .del(keys.busyPrefix + executor)
      .lpush(keys.available, poolEntry(executor))
      .exec()) as [[null, number], [null, number]];
    const busyBit = wasBusy === 1 ? 1 : 0;
    const reply: ReleaseReply = {
      executor,
      wasBusy: busyBit,
      added: 1,
      status: 'released',
      reply: [wasBusy, length],
      doubleRelease: false,
      sinceLastReleaseMs: null,
    };
    this.observeRelease(pool, reply, 'naive');
    return reply;
  }

  /** Replaces the pool with `size` fresh, available executors. */
  async reset(pool: string, size = this.options.defaultSize): Promise<number> {
    const keys = poolKeys(pool);
    const count = (await this.runScript(
      'reset_pool',
      [keys.available, keys.members, keys.busyPrefix, keys.releaseTimesPrefix],
      executorUrls(size),
    )) as number;
    this.emit('changed', pool);
    return count;
  }

  /** Makes the pool if it has never been made, leaving an existing one as it is. */
  async ensure(pool: string): Promise<void> {
    if ((await this.redis.exists(poolKeys(pool).members)) === 0) await this.reset(pool);
  }

  async assertMember(pool: string, executor: string): Promise<void> {
    // Without this a stranger could make the script record release times for any
    // made-up url: a key per request, never cleaned up.
    if ((await this.redis.lpos(poolKeys(pool).members, executor)) === null) {
      throw new PoolInputError(`executor "${executor}" is not in pool "${pool}"`);
    }
  }

  private reportDoubleRelease(pool: string, executor: string, sinceLastReleaseMs: number, log: boolean): void {
    const warning: DoubleReleaseWarning = { message: 'Double release detected', pool, executor, sinceLastReleaseMs, at: Date.now() };
    if (log) this.warnings.warn(`${pool}|${executor}`, warning.message, { pool, executor, sinceLastReleaseMs });
    this.emit('double-release', warning);
  }
}
