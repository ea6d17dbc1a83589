/**
 * A recorded session on a pool (allocate, release once, double release), played
 * back at its real pace: each message the server pushed to the pool's room
 * reaches the panel when the replay's clock gets to it, as it reached the
 * recorder's socket. Restarting plays it from the pool as it was before.
 */
import type { PoolMessage, PoolSessionRecording, PoolSnapshot } from '../../../server/protocol.ts';
import { ReplayPlayer } from '../../replay/player.ts';

export interface SessionSink {
  /** Back to the start: the pool as the session found it. */
  reset(before: PoolSnapshot): void;
  /** One message of the pool's room; `t` when it came, on the replay's clock. */
  message(message: PoolMessage, t: number): void;
}

export class SessionReplay {
  readonly player: ReplayPlayer;
  private delivered = 0;
  private readonly timed: { t: number; message: PoolMessage }[];
  private readonly unsubscribe: () => void;

  constructor(
    readonly recording: PoolSessionRecording,
    private readonly sink: SessionSink,
  ) {
    this.timed = recording.poolMessages.map((message) => ({ t: Math.max(0, message.at - recording.startedAt), message })).sort((a, b) => a.t - b.t);
    this.player = new ReplayPlayer(this.timed.map((m) => m.t));
    this.unsubscribe = this.player.onChange(() => this.deliver());
    this.deliver();
  }

  destroy(): void {
    this.unsubscribe();
    this.player.destroy();
  }

  private deliver(): void {
    const now = this.player.now;
    // The clock went back (played again): start over from the pool as it was.
    const due = this.timed.filter((m) => m.t <= now).length;
    if (due < this.delivered || this.delivered === 0) {
      this.delivered = 0;
      this.sink.reset(this.recording.before);
    }
    for (const { t, message } of this.timed.slice(this.delivered, due)) this.sink.message(message, t);
    this.delivered = due;
  }
}
