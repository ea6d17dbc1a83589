/**
 * Run records in Redis, so every instance behind a load balancer reads the same
 * runs: a run played on one is fetched by id, and shown to late joiners, on all.
 *
 * A record is one JSON value, rewritten as the run changes. Writes are coalesced
 * per run (one in flight; whatever happened meanwhile goes in the next), and
 * `save` resolves once a write holding the record as it is now has landed, so the
 * caller announces a change only after it is readable everywhere: a late joiner
 * who joins the room and then reads the record misses nothing in between.
 *
 * While Redis is away nothing waits on it: a write is skipped and the record kept
 * here, written when Redis is back (after a restart of the private Redis, that is
 * all it holds of the runs before it). Reads fail as `redis_unavailable` then.
 *
 * All keys share the hash tag `{runs}` (one cluster slot): the record of each run,
 * the latest run of each scenario, and an index by start time that bounds how many
 * records are kept (a scenario's latest is never dropped); a TTL under all of them
 * frees what an abandoned deployment left behind.
 */
import type { Redis } from 'ioredis';
import { ReplyError } from 'ioredis';
import { RunRecordSchema, type RunRecord } from '../protocol.ts';
import { ClientError } from '../errors.ts';
import type { Logger } from '../log.ts';
import { OWNERS_KEY } from './runOwners.ts';

export const RUN_KEY_PREFIX = 'idem:{runs}:run:';
export const LATEST_KEY = 'idem:{runs}:latest';
export const INDEX_KEY = 'idem:{runs}:index';
/** A record outlives a talk and its questions, not a day. */
const TTL_MS = 12 * 60 * 60 * 1000;

export const runKey = (id: string): string => `${RUN_KEY_PREFIX}${id}`;

/** A run this instance is writing: its record, its write chain, and whether Redis has it as it is. */
interface Writing {
  record: RunRecord;
  /** The last write asked for. */
  tail: Promise<void>;
  /** A write asked for and not begun: a change now rides on it. */
  next: Promise<void> | null;
  /** Its start is in the latest hash and the index (written once: a later write must not undo a newer run's). */
  indexed: boolean;
  /** Its last write did not reach Redis. */
  unwritten: boolean;
}

export class RunStore {
  private readonly writing = new Map<string, Writing>();
  /**
   * Runs done with and already indexed, newest last (at most keepRuns): a late save of one (its last word, after
   * its record was already written) must not index it again over a newer run of its scenario.
   */
  private readonly indexedDone = new Set<string>();
  /** The read of the latest runs that callers arriving now will share, not yet begun; and the last one asked for. */
  private nextLatest: Promise<RunRecord[]> | null = null;
  private latestTail: Promise<unknown> = Promise.resolve();
  private readonly onReady = () => {
    for (const entry of this.writing.values()) if (entry.unwritten) void this.save(entry.record);
  };

  constructor(
    private readonly redis: Redis,
    /** `instance`: this instance's id, named as the owner of its runs until they end (runOwners.ts). */
    private readonly options: { keepRuns: number; instance: string },
    private readonly log: Logger,
  ) {
    redis.on('ready', this.onReady);
  }

  /**
   * Writes `record` as it is when the write begins; resolves once written (or skipped while Redis is away), never
   * rejects. `ended elsewhere`: the record of another instance's run, ended here (its latest and index stay as they are).
   */
  save(record: RunRecord, from: 'ours' | 'ended elsewhere' = 'ours'): Promise<void> {
    let entry = this.writing.get(record.id);
    if (!entry) {
      entry = { record, tail: Promise.resolve(), next: null, indexed: from === 'ended elsewhere' || this.indexedDone.has(record.id), unwritten: false };
      this.writing.set(record.id, entry);
    }
    if (entry.next) return entry.next;
    const current = entry;
    const next = current.tail.then(async () => {
      current.next = null;
      await this.write(current);
      // Done with a run once it ended and Redis has it; a record Redis missed stays (a bounded few) for the next ready.
      if (!current.next && current.record.status !== 'running' && !current.unwritten) this.done(current.record.id);
    });
    current.next = next;
    current.tail = next;
    return next;
  }

  private done(id: string): void {
    this.writing.delete(id);
    this.indexedDone.add(id);
    if (this.indexedDone.size > this.options.keepRuns) this.indexedDone.delete(this.indexedDone.values().next().value as string);
  }

  /** The run's record, or undefined when there is none (or what is stored is not a run record). */
  async get(id: string): Promise<RunRecord | undefined> {
    const stored = await this.read(() => this.redis.get(runKey(id)), null);
    return stored === null ? undefined : this.parse(id, stored);
  }

  /**
   * The latest run of each scenario: what a viewer who joins late should see. A hall
   * joins at once (the QR code): callers share one read, but only one that begins
   * after they asked, so none gets a read older than its joining the room.
   */
  latest(): Promise<RunRecord[]> {
    if (this.nextLatest) return this.nextLatest;
    const next = this.latestTail.then(() => {
      this.nextLatest = null;
      return this.readLatest();
    });
    this.nextLatest = next;
    this.latestTail = next.catch(() => {});
    return next;
  }

  private async readLatest(): Promise<RunRecord[]> {
    const ids = Object.values(await this.read(() => this.redis.hgetall(LATEST_KEY), {}));
    if (ids.length === 0) return [];
    const stored = await this.read(() => this.redis.mget(ids.map(runKey)), []);
    return ids.flatMap((id, i) => {
      const record = stored[i] ? this.parse(id, stored[i]) : undefined;
      return record ? [record] : [];
    });
  }

  /** Resolves when every write asked for so far has landed or been skipped. */
  async settled(): Promise<void> {
    await Promise.all([...this.writing.values()].map((entry) => entry.tail));
  }

  destroy(): void {
    this.redis.off('ready', this.onReady);
  }

  private async write(entry: Writing): Promise<void> {
    const { record } = entry;
    if (this.redis.status !== 'ready') {
      this.missed(entry);
      return;
    }
    try {
      const multi = this.redis.multi().set(runKey(record.id), JSON.stringify(record), 'PX', TTL_MS);
      // Its owner, while it may still change: an instance that dies leaves its runs to the others' sweep.
      if (record.status === 'running') multi.hset(OWNERS_KEY, record.id, this.options.instance).pexpire(OWNERS_KEY, TTL_MS);
      else multi.hdel(OWNERS_KEY, record.id);
      const indexing = !entry.indexed;
      if (indexing) {
        multi
          .hset(LATEST_KEY, record.scenario, record.id)
          .zadd(INDEX_KEY, record.startedAt, record.id)
          .pexpire(LATEST_KEY, TTL_MS)
          .pexpire(INDEX_KEY, TTL_MS)
          .zcard(INDEX_KEY);
      }
      const results = await multi.exec();
      const failed = results?.find(([error]) => error);
      if (!results || failed) throw failed?.[0] ?? new Error('the run record write was discarded');
      entry.unwritten = false;
      entry.indexed = true;
      if (indexing) await this.trim(Number(results.at(-1)![1]));
    } catch (error) {
      this.missed(entry);
      this.log.warn('could not store a run record: written again when Redis is back', { runId: record.id, error: String(error) });
    }
  }

  /** Drops the oldest records beyond `keepRuns`, except each scenario's latest. */
  private async trim(count: number): Promise<void> {
    const excess = count - this.options.keepRuns;
    if (excess <= 0) return;
    const keepers = new Set(Object.values(await this.redis.hgetall(LATEST_KEY)));
    const oldest = await this.redis.zrange(INDEX_KEY, 0, excess + keepers.size - 1);
    const dropped = oldest.filter((id) => !keepers.has(id)).slice(0, excess);
    if (dropped.length > 0) await this.redis.multi().zrem(INDEX_KEY, ...dropped).del(...dropped.map(runKey)).exec();
  }

  /** A record Redis missed waits here for the next ready; the oldest beyond the bound Redis keeps are let go. */
  private missed(entry: Writing): void {
    if (entry.unwritten) return;
    entry.unwritten = true;
    const waiting = [...this.writing.values()].filter((other) => other.unwritten && other.record.status !== 'running');
    for (const other of waiting.slice(0, Math.max(0, waiting.length - this.options.keepRuns))) this.writing.delete(other.record.id);
  }

  /** Redis answering with an error is a stored value of the wrong kind: treated as `missing`. Anything else: Redis is away. */
  private async read<T>(command: () => Promise<T>, missing: T): Promise<T> {
    if (this.redis.status !== 'ready') throw new ClientError('redis_unavailable', 'Redis is not answering: run records are kept there');
    try {
      return await command();
    } catch (error) {
      if (error instanceof ReplyError) {
        this.log.warn('a stored run key is not what it should be: treated as missing', { error: String(error) });
        return missing;
      }
      throw new ClientError('redis_unavailable', 'Redis is not answering: run records are kept there');
    }
  }

  private parse(id: string, stored: string): RunRecord | undefined {
    let value: unknown;
    try {
      value = JSON.parse(stored);
    } catch {
      value = undefined;
    }
    const parsed = RunRecordSchema.safeParse(value);
    if (parsed.success && parsed.data.id === id) return parsed.data;
    this.log.warn('a stored run record is corrupt: treated as missing', { runId: id });
    return undefined;
  }
}
