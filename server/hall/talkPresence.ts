/**
 * Whether a talk is live: a presenter window is in the hall, or a presenter acted,
 * within the idle time (PRESENTER_IDLE_SECONDS). While no talk is live, a reader
 * alone on the site may fire every demo (the gate lets them, within the limits);
 * the moment a presenter is back, the presenter's open/closed gating applies again.
 *
 * The flag is part of the deck state (`live`), so every instance, and every page,
 * agrees on it, and it changes twice per talk: one `deck:changed` when a presenter
 * arrives, one when the last has been gone for the idle time. What "recently" means
 * across instances is one Redis key with a TTL, `idem:{hall}:presenter-seen`: the
 * instance that sees a presenter (a window joining, a presenter action, and every
 * tick while a presenter window stays connected to it) sets it again; an instance
 * that finds it expired, with no presenter window of its own, ends the live talk.
 * A presenter acting on one instance just as another finds the key expired can see
 * the talk end for one tick: the next tick of the instance it is connected to (or
 * its next action) starts it again.
 *
 * The key holds the time of the sighting, and each instance remembers the latest
 * it saw or read there: a Redis that restarts empty loses the key, not the talk.
 * An instance ends the talk only once its own memory says the idle time is over
 * too, and when Redis is back each instance writes back what it remembers
 * (lua/note_presenter_seen-1.lua keeps the latest).
 */
import type { Redis } from 'ioredis';
import type { Logger } from '../log.ts';
import type { RunScript } from '../redis/scripts.ts';
import type { HallDeck } from './deckState.ts';

export const PRESENTER_SEEN_KEY = 'idem:{hall}:presenter-seen';

/** How often an instance looks: a quarter of the idle time, between 250 ms and 15 s. */
function tickMs(idleMs: number): number {
  return Math.min(15_000, Math.max(250, Math.floor(idleMs / 4)));
}

export interface TalkPresenceOptions {
  deck: HallDeck;
  idleMs: number;
  log: Logger;
  /** Given: the presenter's last sign of life is shared by every instance using this Redis. */
  redis?: { connection: Redis; runScript: RunScript };
}

export class TalkPresence {
  /** Presenter sockets in the hall on this instance. */
  private presentersHere = 0;
  /** The latest sign of life of a presenter, on this instance or (read from Redis) on any. */
  private lastSeen = Number.NEGATIVE_INFINITY;
  private lastWritten = Number.NEGATIVE_INFINITY;
  private readonly every: number;
  private readonly timer: NodeJS.Timeout;

  constructor(private readonly options: TalkPresenceOptions) {
    this.every = tickMs(options.idleMs);
    this.timer = setInterval(() => void this.tick(), this.every).unref();
  }

  get idleSeconds(): number {
    return this.options.idleMs / 1000;
  }

  /** A presenter acted (any presenter action, over HTTP or a socket): a talk is live from now on. */
  seen(): void {
    const now = Date.now();
    this.lastSeen = now;
    const starting = !this.options.deck.state.live;
    // The key first: an instance that hears of the live talk finds it set.
    if (this.options.redis && (starting || now - this.lastWritten >= this.every)) {
      this.lastWritten = now;
      void this.note(now);
    }
    if (starting) {
      this.options.log.info('a presenter is here: the talk is live, the presenter opens the demos');
      this.options.deck.setLive(true);
    }
  }

  /** A presenter window joined the hall on this instance: the talk stays live while it is connected. */
  joined(): void {
    this.presentersHere += 1;
    this.seen();
  }

  /** A presenter window left: the idle time runs from now (the key is written again, whenever it last was). */
  left(): void {
    this.presentersHere = Math.max(0, this.presentersHere - 1);
    this.lastWritten = Number.NEGATIVE_INFINITY;
    this.seen();
  }

  /**
   * Redis is back, perhaps empty: the last sign of life this instance knows goes back
   * there (a connected presenter counts as one now), so every instance reads it again.
   */
  async restore(): Promise<void> {
    if (this.presentersHere > 0) this.lastSeen = Date.now();
    if (Date.now() - this.lastSeen < this.options.idleMs) await this.note(this.lastSeen);
  }

  destroy(): void {
    clearInterval(this.timer);
  }

  /** Writes a sighting to Redis (a later one there stays). */
  private async note(at: number): Promise<void> {
    const ttlMs = Math.round(at + this.options.idleMs - Date.now());
    if (!this.options.redis || ttlMs <= 0) return;
    await this.options.redis
      .runScript('note_presenter_seen', [PRESENTER_SEEN_KEY], [at, ttlMs])
      .catch((error: unknown) => this.options.log.warn('could not note the presenter in Redis', { error: String(error) }));
  }

  private async tick(): Promise<void> {
    if (this.presentersHere > 0) {
      this.seen();
      return;
    }
    if (!this.options.deck.state.live) return;
    if (this.options.redis) {
      try {
        const seenAnywhere = Number(await this.options.redis.connection.get(PRESENTER_SEEN_KEY));
        if (seenAnywhere > this.lastSeen) this.lastSeen = seenAnywhere;
      } catch {
        return; // Redis away: nobody can tell, so nothing changes.
      }
    }
    const recent = Date.now() - this.lastSeen < this.options.idleMs;
    if (recent || this.presentersHere > 0 || !this.options.deck.state.live) return;
    this.options.log.info('no presenter for a while: no talk is live, every demo is open to all');
    this.options.deck.setLive(false);
  }
}
