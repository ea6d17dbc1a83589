/**
 * The timer behind the pool panels' TTL countdowns. Redis' PTTL is read with each
 * snapshot and counted down here between two of them, but only while the slide
 * is on screen and some executor is busy: a hidden slide or an idle pool costs
 * no timer.
 */
import type { PoolSnapshot } from '../server/protocol.ts';

export class CountdownTicker {
  private timer: ReturnType<typeof setInterval> | null = null;

  /** `tick` redraws the countdowns and returns how many still count; at 0 the timer stops. */
  constructor(
    private readonly everyMs: number,
    private readonly tick: () => number,
  ) {}

  /** Starts the timer when it is needed (and not running), stops it when not; returns whether it is needed. */
  sync(visible: boolean, snapshot: PoolSnapshot | null): boolean {
    const needed = visible && snapshot !== null && Object.keys(snapshot.busy).length > 0;
    if (needed && !this.timer) {
      this.timer = setInterval(() => {
        if (this.tick() === 0) this.stop();
      }, this.everyMs);
    } else if (!needed) {
      this.stop();
    }
    return needed;
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }
}
