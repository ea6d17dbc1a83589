/**
 * The hall as one part of the server: the deck state, what the audience is doing,
 * the gate every action passes, and where phones join. The composition root makes
 * one and hands its pieces to the doors (HTTP routes and socket channels).
 */
import type { JoinInfo } from '../protocol.ts';
import type { Logger } from '../log.ts';
import type { PoolActions } from '../pool/poolActions.ts';
import type { Redis } from 'ioredis';
import type { RunScript } from '../redis/scripts.ts';
import { localBudget, sharedBudget } from './budgets.ts';
import { Sessions } from '../session/sessions.ts';
import { Activity } from './activity.ts';
import { HallDeck } from './deckState.ts';
import { Gate } from './gate.ts';
import { joinInfo, joinQrSvg } from './join.ts';
import { TalkPresence } from './talkPresence.ts';

export interface HallOptions {
  presenterSecret: string;
  publicUrl: string | undefined;
  viewerActionsPerSecond: number;
  viewerActionBurst: number;
  panelActionsPerSecond: number;
  panelActionBurst: number;
  /** Without a presenter for this long, no talk is live and every demo is open to all. */
  presenterIdleMs: number;
  log: Logger;
  /** Given: the rate limits and the presenter's last sign of life live in this Redis, shared by every server instance using it. */
  redis?: Redis;
  /** The Lua scripts of lua/ on that Redis. */
  runScript?: RunScript;
  /** Signs viewer cookies; the same on every instance (sessionKey.ts). Default: random. */
  viewerKey?: Buffer;
  /** Express' `trust proxy` (TRUST_PROXY): whose X-Forwarded-For counts when minting sessions. */
  trustProxy?: boolean | number | string;
}

export class Hall {
  readonly sessions: Sessions;
  readonly deck = new HallDeck();
  readonly activity = new Activity();
  readonly gate: Gate;
  /** Whether a talk is live (a presenter here lately), kept in the deck state. */
  readonly presence: TalkPresence;
  private joinNow: JoinInfo = { url: '', loopback: true };
  private qr: Promise<string> | null = null;
  private readonly sweeper: NodeJS.Timeout;

  constructor(private readonly options: HallOptions) {
    this.sessions = new Sessions(options.presenterSecret, {
      ...(options.viewerKey ? { viewerKey: options.viewerKey } : {}),
      ...(options.trustProxy !== undefined ? { trustProxy: options.trustProxy } : {}),
    });
    this.presence = new TalkPresence({
      deck: this.deck,
      idleMs: options.presenterIdleMs,
      log: options.log,
      ...(options.redis && options.runScript ? { redis: { connection: options.redis, runScript: options.runScript } } : {}),
    });
    this.gate = new Gate({
      presenterActed: () => this.presence.seen(),
      sessions: this.sessions,
      deck: this.deck,
      activity: this.activity,
      viewerLimiter: options.redis
        ? sharedBudget(options.redis, 'viewer', options.viewerActionsPerSecond, options.viewerActionBurst)
        : localBudget(options.viewerActionsPerSecond, options.viewerActionBurst),
      panelBudget: options.redis
        ? sharedBudget(options.redis, 'panel', options.panelActionsPerSecond, options.panelActionBurst)
        : localBudget(options.panelActionsPerSecond, options.panelActionBurst),
    });
    this.sweeper = setInterval(() => this.gate.sweep(), 60_000).unref();
  }

  /** Called once the server listens: the join URL may come from the address it got. */
  listening(address: { host: string; port: number }): JoinInfo {
    this.joinNow = joinInfo(this.options.publicUrl, address);
    this.qr = null;
    if (this.joinNow.loopback) {
      this.options.log.warn('the join URL is a loopback address: phones cannot reach it (set HOST=0.0.0.0 or PUBLIC_URL)', { joinUrl: this.joinNow.url });
    }
    return this.joinNow;
  }

  get join(): JoinInfo {
    return this.joinNow;
  }

  joinQr(): Promise<string> {
    return (this.qr ??= joinQrSvg(this.joinNow.url));
  }

  /** What the console warns the presenter about. */
  warnings(): string[] {
    return this.joinNow.loopback ? [`Phones cannot reach ${this.joinNow.url} (a loopback address): set HOST=0.0.0.0 or PUBLIC_URL.`] : [];
  }

  /** Redis is back, perhaps empty: the deck and the presenter's last sign of life go back there. */
  async restore(): Promise<void> {
    await this.deck.restore();
    await this.presence.restore();
  }

  /** Between rehearsals: every pool fresh, every panel closed, first slide, counters cleared. */
  async resetEverything(actions: PoolActions, pools: Iterable<string>): Promise<void> {
    for (const pool of pools) await actions.reset({ pool });
    this.activity.clear();
    await this.gate.refill();
    this.deck.reset();
  }

  destroy(): void {
    clearInterval(this.sweeper);
    this.presence.destroy();
  }
}
