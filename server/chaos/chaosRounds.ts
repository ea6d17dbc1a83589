/**
 * The chaos rounds of this server: the presenter opens one at a time, the hall
 * taps while it is open, and every viewer watching gets one small state message
 * per tick (at most TICKS_PER_SECOND), never one per tap or per operation.
 *
 * Limits: each tap passes the viewer session's own bucket (the hall's limit,
 * shared with the session's other actions) and the round's hall-wide budget,
 * and a round runs at most `maxInFlight` evals at once: a hall of a thousand
 * phones can tap as fast as it likes, the box keeps its pace.
 */
import type { Redis } from 'ioredis';
import { ClientError } from '../errors.ts';
import type { Gate } from '../hall/gate.ts';
import type { Logger } from '../log.ts';
import { readArchivePart, type ArchivePart } from './historyArchive.ts';
import type { ChaosRoundState, ChaosTapReply } from '../protocol.ts';
import { RateLimiter } from '../rateLimit.ts';
import type { Viewer } from '../session/sessions.ts';
import { ChaosRound, roundKeys, type ChaosRoundOptions } from './chaosRound.ts';

export const TICKS_PER_SECOND = 4;

export interface ChaosRoundsOptions extends ChaosRoundOptions {
  /** Taps the whole hall may make per second (and as a burst). */
  tapsPerSecond: number;
  /** Evals running at once in a round, over its three pools. */
  maxInFlight: number;
  /** How many finished rounds stay in memory (the rest are read back from Redis). */
  keepRounds: number;
}

export const DEFAULT_CHAOS_OPTIONS: ChaosRoundsOptions = {
  poolSize: 12,
  settleMs: 30_000,
  keepSeconds: 7 * 24 * 3600,
  tapsPerSecond: 120,
  maxInFlight: 1500,
  keepRounds: 10,
};

export class ChaosRounds {
  private current: ChaosRound | null = null;
  private readonly rounds = new Map<string, ChaosRound>();
  private readonly hallBudget: RateLimiter;
  private readonly workers: Redis[];
  private readonly timer: NodeJS.Timeout;
  private ticking = false;
  private checking = false;
  private lastCheckAt = 0;
  private checkCostMs = 0;
  private lastSent = '';

  constructor(
    private readonly redis: Redis,
    private readonly gate: Gate,
    /** Sends a round's state to everyone watching. */
    private readonly publish: (state: ChaosRoundState) => void,
    private readonly log: Logger,
    readonly options: ChaosRoundsOptions = DEFAULT_CHAOS_OPTIONS,
  ) {
    this.hallBudget = new RateLimiter(options.tapsPerSecond, options.tapsPerSecond);
    // No command timeout on the evals' connections: a reply that times out on our side was still run by Redis,
    // and an operation Redis ran but the history lacks reads as a violation to the checker. A stalled event loop
    // (a loaded machine) fires such timeouts before it reads the replies waiting on the socket.
    this.workers = [redis.duplicate({ commandTimeout: undefined }), redis.duplicate({ commandTimeout: undefined })];
    for (const worker of this.workers) worker.on('error', (error) => log.warn('chaos redis connection error', { error: error.message }));
    this.timer = setInterval(() => void this.tick(), 1000 / TICKS_PER_SECOND);
    this.timer.unref();
  }

  async open(seconds: number): Promise<ChaosRound> {
    if (this.current && this.current.status !== 'done') {
      throw new ClientError('stage_busy', `round ${this.current.id} is still ${this.current.status}: wait for its summary`);
    }
    const id = `r${Date.now().toString(36)}${Math.floor(Math.random() * 36 ** 3).toString(36).padStart(3, '0')}`;
    const round = await ChaosRound.open(id, seconds, this.redis, this.workers, this.options);
    this.current = round;
    this.rounds.set(id, round);
    for (const old of [...this.rounds.keys()].slice(0, -this.options.keepRounds)) this.rounds.delete(old);
    this.log.info('chaos round opened', { round: id, seconds });
    this.send(round, true);
    return round;
  }

  async tap(viewer: Viewer, roundId: string, holdMs: number): Promise<ChaosTapReply> {
    const round = this.rounds.get(roundId);
    if (!round || !round.isOpen()) throw new ClientError('forbidden', 'no round is open: wait for the presenter to open one');
    await this.gate.viewerBudget(viewer);
    if (!round.isOpen()) throw new ClientError('forbidden', 'the round closed meanwhile');
    if (round.inFlight >= this.options.maxInFlight || !this.hallBudget.take('hall')) {
      throw new ClientError('rate_limited', 'the whole hall is tapping: try again in a moment');
    }
    return round.tap(viewer.id, holdMs);
  }

  latest(): ChaosRoundState | null {
    return this.current?.state() ?? null;
  }

  /** A round's state: this server's, or the summary a finished round left in Redis. */
  async state(id: string): Promise<ChaosRoundState> {
    const round = this.rounds.get(id);
    if (round) return round.state();
    const summary = await this.redis.get(roundKeys(id).summary);
    if (!summary) throw new ClientError('not_found', `no round ${id}`);
    return JSON.parse(summary) as ChaosRoundState;
  }

  /**
   * The round's three histories (naive, lua, fenced; `all`, a JSON array) or one, as the
   * checker reads them, gzipped: serialized once when the round ended. Only once it is done.
   */
  async history(id: string, part: ArchivePart): Promise<Buffer> {
    const round = this.rounds.get(id);
    const inMemory = round?.historyPart(part);
    if (inMemory) return inMemory;
    if (round && round.status !== 'done') throw new ClientError('stage_busy', `round ${id} is still ${round.status}: its history comes with the summary`);
    const stored = await readArchivePart(this.redis, roundKeys(id).history, part);
    if (!stored) throw new ClientError('not_found', `no history of round ${id}`);
    return stored;
  }

  async destroy(): Promise<void> {
    clearInterval(this.timer);
    for (const round of this.rounds.values()) await round.destroy().catch(() => {});
    for (const worker of this.workers) worker.disconnect();
  }

  private async tick(): Promise<void> {
    const round = this.current;
    if (!round || round.status === 'done' || this.ticking) return;
    this.ticking = true;
    try {
      const now = Date.now();
      if (round.status === 'open' && now >= round.closesAt) {
        this.send(round, true);
        await round.finish();
        this.log.info('chaos round done', { round: round.id, taps: round.state().taps });
        this.send(round, true);
        return;
      }
      if (round.status !== 'open') return;
      await round.flush(now);
      // The live check re-reads the whole history (on its own thread): once a second, or as often as its cost allows.
      // Not awaited: the ticks (and their messages) go on while the checker reads.
      if (!this.checking && now - this.lastCheckAt >= Math.max(1000, 2 * this.checkCostMs)) {
        this.checking = true;
        this.lastCheckAt = now;
        const started = performance.now();
        void round
          .checkLive(5000)
          .then(() => {
            this.checkCostMs = performance.now() - started;
            if (round.status === 'open') round.mark();
          })
          .finally(() => (this.checking = false));
      }
      this.send(round, false);
    } catch (error) {
      this.log.error('chaos round tick failed', { round: round.id, error: String(error) });
    } finally {
      this.ticking = false;
    }
  }

  /** One message per tick, and none when nothing changed. */
  private send(round: ChaosRound, always: boolean): void {
    const state = round.state();
    const key = JSON.stringify({ ...state, at: 0 });
    if (!always && key === this.lastSent) return;
    this.lastSent = key;
    this.publish(state);
  }
}
