/**
 * The deck state in Redis, so every server instance behind a load balancer shows
 * the hall the same deck: the presenter's window may talk to one instance and the
 * phones to others. Each instance keeps a mirror it can read at once (every audience
 * action checks "is this panel open?"); a change is written to Redis and announced
 * on a channel, and each instance adopts whatever is newer than its mirror.
 *
 * One hash, one field per part of the state, so two changes of different parts
 * (the slide, a panel) never undo each other; the version is Redis' own counter.
 *
 * The state outlives Redis: every write carries the whole state the instance held
 * (lua/save_deck-1.lua), and when Redis is back every instance writes back what it
 * holds (lua/restore_deck-1.lua). A Redis that restarted empty gets the newest state
 * any instance held, with that version, so the versions only grow.
 */
import { randomBytes } from 'node:crypto';
import type { Redis } from 'ioredis';
import type { DeckState } from '../protocol.ts';
import type { Logger } from '../log.ts';
import type { RunScript } from '../redis/scripts.ts';

export const DECK_KEY = 'idem:{hall}:deck';
export const DECK_CHANNEL = 'idem:{hall}:deck-changed';

type Fields = Record<string, string>;

interface Announcement {
  from: string;
  state: DeckState;
}

function toFields(patch: Partial<DeckState>): Fields {
  const fields: Fields = {};
  for (const [name, value] of Object.entries(patch)) {
    if (name !== 'version') fields[name] = JSON.stringify(value);
  }
  return fields;
}

/** Field, value, field, value, ...: how the scripts take a state and how Redis answers HGETALL to a script. */
function flat(fields: Fields): string[] {
  return Object.entries(fields).flat();
}

function unflat(list: string[]): Fields {
  const fields: Fields = {};
  for (let i = 0; i + 1 < list.length; i += 2) fields[list[i]!] = list[i + 1]!;
  return fields;
}

function fromFields(fields: Fields): DeckState | null {
  if (!fields.version) return null;
  const state: Record<string, unknown> = { version: Number(fields.version) };
  for (const [name, value] of Object.entries(fields)) if (name !== 'version') state[name] = JSON.parse(value);
  return state as unknown as DeckState;
}

export class DeckStore {
  /** Tells this instance's own announcements from the others'. */
  readonly instance = randomBytes(6).toString('hex');
  private subscriber: Redis | null = null;
  private writes: Promise<unknown> = Promise.resolve();

  constructor(
    private readonly redis: Redis,
    private readonly runScript: RunScript,
    private readonly log: Logger,
  ) {}

  /** The state in Redis; `initial` written there first when there is none yet. */
  async load(initial: DeckState): Promise<DeckState> {
    await this.redis.multi().hsetnx(DECK_KEY, 'version', String(initial.version)).exec();
    const fields = await this.redis.hgetall(DECK_KEY);
    const missing = Object.fromEntries(Object.entries(toFields(initial)).filter(([name]) => fields[name] === undefined));
    if (Object.keys(missing).length > 0) {
      await this.redis.hset(DECK_KEY, missing);
      Object.assign(fields, missing);
    }
    return fromFields(fields)!;
  }

  /** Calls `adopt` with every change another instance makes. */
  async follow(adopt: (state: DeckState) => void): Promise<void> {
    const subscriber = this.redis.duplicate();
    subscriber.on('error', (error) => this.log.warn('deck subscriber error', { error: error.message }));
    this.subscriber = subscriber;
    subscriber.on('message', (_channel: string, message: string) => {
      try {
        const { from, state } = JSON.parse(message) as Announcement;
        if (from !== this.instance) adopt(state);
      } catch (error) {
        this.log.warn('bad deck announcement', { error: String(error) });
      }
    });
    await subscriber.subscribe(DECK_CHANNEL);
  }

  /**
   * Writes a change (in the order given) and announces it; `held` is the whole state
   * before the change, written first should Redis hold less. `written` gets the state
   * as Redis holds it after the change, with Redis' version.
   */
  save(patch: Partial<DeckState>, held: DeckState, written: (state: DeckState) => void): void {
    this.enqueue('could not store the deck state', async () => {
      const change = flat(toFields(patch));
      const reply = (await this.runScript('save_deck', [DECK_KEY], [held.version, change.length, ...change, ...flat(toFields(held))])) as string[];
      const state = fromFields(unflat(reply))!;
      written(state);
      await this.announce(state);
    });
  }

  /**
   * Redis is back: writes `held` there unless Redis holds as new a state (it restarted
   * empty, say), and announces it when written. `current` gets the state Redis holds.
   */
  restore(held: DeckState, current: (state: DeckState) => void): Promise<void> {
    return this.enqueue('could not restore the deck state', async () => {
      const [wrote, hash] = (await this.runScript('restore_deck', [DECK_KEY], [held.version, ...flat(toFields(held))])) as [number, string[]];
      const state = fromFields(unflat(hash))!;
      if (wrote === 1) this.log.info('the deck state is back in Redis', { version: state.version });
      current(state);
      if (wrote === 1) await this.announce(state);
    });
  }

  private enqueue(failure: string, write: () => Promise<void>): Promise<void> {
    const done = this.writes.then(write).catch((error: unknown) => this.log.warn(failure, { error: String(error) }));
    this.writes = done;
    return done;
  }

  private async announce(state: DeckState): Promise<void> {
    await this.redis.publish(DECK_CHANNEL, JSON.stringify({ from: this.instance, state } satisfies Announcement));
  }

  /** Resolves when every change given so far is written. */
  async settled(): Promise<void> {
    await this.writes;
  }

  async close(): Promise<void> {
    await this.settled();
    const subscriber = this.subscriber;
    this.subscriber = null;
    await subscriber?.quit().catch(() => subscriber.disconnect());
  }
}
