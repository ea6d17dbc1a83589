/**
 * The clock of a replay: a recording's moments (ms from its start), played at
 * their real pace (1x) or twice as fast, paused, or stepped one moment at a time.
 * Listeners hear of each moment reached; `clock()` gives the time in between
 * (for a countdown). Nothing is drawn here: panels draw the recording as it was
 * at `now`.
 */
export type ReplaySpeed = 1 | 2;

export class ReplayPlayer {
  /** The moments, sorted, first at 0. */
  readonly moments: number[];
  readonly endMs: number;
  private position = 0;
  private playingNow = false;
  private speedNow: ReplaySpeed = 1;
  /** performance.now() when `position` was reached while playing. */
  private reachedAt = 0;
  private timer: ReturnType<typeof setTimeout> | null = null;
  private readonly listeners = new Set<() => void>();

  constructor(moments: readonly number[]) {
    this.moments = [...new Set([0, ...moments.map((m) => Math.max(0, m))])].sort((a, b) => a - b);
    this.endMs = this.moments.at(-1) ?? 0;
  }

  /** The recording's time shown now (ms from its start): the last moment reached. */
  get now(): number {
    return this.moments[this.position] ?? 0;
  }

  get playing(): boolean {
    return this.playingNow;
  }

  get speed(): ReplaySpeed {
    return this.speedNow;
  }

  get ended(): boolean {
    return this.position >= this.moments.length - 1;
  }

  /** The recording's time including what passed since the last moment (for countdowns). */
  clock(): number {
    if (!this.playingNow) return this.now;
    const next = this.moments[this.position + 1] ?? this.now;
    return Math.min(next, this.now + (performance.now() - this.reachedAt) * this.speedNow);
  }

  onChange(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  play(): void {
    if (this.ended) this.position = 0;
    this.playingNow = true;
    this.reachedAt = performance.now();
    this.schedule();
    this.changed();
  }

  pause(): void {
    this.playingNow = false;
    this.clearTimer();
    this.changed();
  }

  /** One moment further, paused there. */
  step(): void {
    this.playingNow = false;
    this.clearTimer();
    if (!this.ended) this.position++;
    this.changed();
  }

  setSpeed(speed: ReplaySpeed): void {
    if (speed === this.speedNow) return;
    // The time already waited towards the next moment counts at the old speed.
    const waited = (performance.now() - this.reachedAt) * this.speedNow;
    this.speedNow = speed;
    this.reachedAt = performance.now() - waited / speed;
    if (this.playingNow) this.schedule();
    this.changed();
  }

  /** The last moment: the run as it ended (print, or a reader who only wants the result). */
  toEnd(): void {
    this.playingNow = false;
    this.clearTimer();
    this.position = this.moments.length - 1;
    this.changed();
  }

  destroy(): void {
    this.clearTimer();
    this.listeners.clear();
    this.playingNow = false;
  }

  private schedule(): void {
    this.clearTimer();
    if (!this.playingNow) return;
    if (this.ended) {
      this.playingNow = false;
      return;
    }
    const next = this.moments[this.position + 1]!;
    const wait = Math.max(0, (next - this.now) / this.speedNow - (performance.now() - this.reachedAt));
    this.timer = setTimeout(() => {
      this.timer = null;
      this.position++;
      this.reachedAt = performance.now();
      if (this.ended) this.playingNow = false;
      else this.schedule();
      this.changed();
    }, wait);
  }

  private clearTimer(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
  }

  private changed(): void {
    for (const listener of [...this.listeners]) listener();
  }
}
