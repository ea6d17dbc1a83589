/**
 * The deck state in Redis, so every server instance behind a load balancer shows
 * the hall the same deck: the presenter's window may talk to one instance and the
 * phones to others. Each instance keeps a mirror it can read at once (every audience
 * action checks "is this panel open?"); a change is written to Redis and announced
 * on a channel, and each instance adopts whatever is newer than its mirror.
 *
 * One hash, one field per part of the state, so two changes of different parts
 * (the slide, a panel) never undo each other; the version is Redis' own counter.
 */
import { randomBytes } from 'node:crypto';
import type { Redis } from 'ioredis';
import type { DeckState } from '../protocol.ts';
import type { Logger } from '../log.ts';

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
   * Writes a change (in the order given) and announces it; `written` gets the state
   * as Redis holds it after the change, with Redis' version.
   */
  save(patch: Partial<DeckState>, written: (state: DeckState) => void): void {
    this.writes = this.writes
      .then(async () => {
        const results = await this.redis.multi().hset(DECK_KEY, toFields(patch)).hincrby(DECK_KEY, 'version', 1).hgetall(DECK_KEY).exec();
        const failed = results?.find(([error]) => error);
        if (!results || failed) throw failed?.[0] ?? new Error('the deck write was discarded');
        const state = fromFields(results[2]![1] as Fields)!;
        written(state);
        await this.redis.publish(DECK_CHANNEL, JSON.stringify({ from: this.instance, state } satisfies Announcement));
      })
      .catch((error: unknown) => this.log.warn('could not store the deck state', { error: String(error) }));
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
