/**
 * Recorded runs as a panel reads them: the same `RunView`s the live feed gives,
 * cut at the replay's clock. Each run plays at its real pace; the runs of a
 * panel either one after another (as the server played the three attempts) or
 * side by side (independent layers). A run the clock has not reached yet is
 * queued; one it has passed is finished, with the verdict the server gave it.
 */
import type { PoolMessage, PoolSnapshot, RunRecording, ScenarioName, TimelineEvent } from '../../server/protocol.ts';
import type { RunView } from '../runs.ts';
import { ReplayPlayer } from './player.ts';

/** The pause between two runs played one after another (the recorder's own wait between them is not shown). */
const GAP_BETWEEN_RUNS_MS = 800;

interface Placed {
  recording: RunRecording;
  /** Where the run starts on the replay's clock (ms). */
  offset: number;
  /** The run's epoch ms that is its zero. */
  zero: number;
  /** Its events with their times on the replay's clock. */
  events: { t: number; event: TimelineEvent }[];
  endT: number;
}

/** What the panels read from: the live feed or a replay. */
export interface RunSource {
  latest(scenario: ScenarioName): RunView | null;
  /** Runs can be started here (a live feed that joined the runs room). */
  readonly watching: boolean;
  readonly error: string;
}

export class RecordedRuns implements RunSource {
  readonly watching = false;
  readonly error = '';
  readonly player: ReplayPlayer;
  /** When the runs were recorded, and with which versions. */
  readonly stamp: Pick<RunRecording, 'recordedAt' | 'versions'>;
  private readonly placed: Placed[];

  constructor(recordings: readonly RunRecording[], options: { sequential: boolean }) {
    let offset = 0;
    this.placed = recordings.map((recording) => {
      const { run } = recording;
      const zero = run.startedAt;
      const events = run.events.map((event) => ({ t: Math.max(0, event.at - zero) + offset, event }));
      const endT = Math.max((run.finishedAt ?? zero) - zero + offset, ...events.map((e) => e.t));
      const placed = { recording, offset, zero, events, endT };
      if (options.sequential) offset = endT + GAP_BETWEEN_RUNS_MS;
      return placed;
    });
    const first = recordings[0];
    this.stamp = { recordedAt: first?.recordedAt ?? new Date(0).toISOString(), versions: first?.versions ?? { redis: '?', bullmq: '?', node: '?' } };
    this.player = new ReplayPlayer(this.placed.flatMap((p) => [p.offset, ...p.events.map((e) => e.t), p.endT]));
  }

  latest(scenario: ScenarioName): RunView | null {
    const placed = this.placed.find((p) => p.recording.run.scenario === scenario);
    return placed ? viewAt(placed, this.player.now) : null;
  }

  /**
   * The last snapshot of `pool` the server pushed by now, with when it came on the
   * replay's clock (for a TTL countdown from there): from the recordings' messages.
   */
  snapshotAt(pool: string): { snapshot: PoolSnapshot; t: number } | null {
    let best: { snapshot: PoolSnapshot; t: number } | null = null;
    for (const placed of this.placed) {
      for (const message of placed.recording.poolMessages) {
        const t = this.timeOf(placed, message);
        if (message.change.pool !== pool || t > this.player.now) continue;
        if (!best || t >= best.t) best = { snapshot: message.change, t };
      }
    }
    return best;
  }

  /** Every message of the recordings reached by now, in order. */
  messagesSoFar(): PoolMessage[] {
    return this.placed
      .flatMap((placed) => placed.recording.poolMessages.map((message) => ({ t: this.timeOf(placed, message), message })))
      .filter(({ t }) => t <= this.player.now)
      .sort((a, b) => a.t - b.t)
      .map(({ message }) => message);
  }

  destroy(): void {
    this.player.destroy();
  }

  private timeOf(placed: Placed, message: PoolMessage): number {
    return Math.max(0, message.at - placed.zero) + placed.offset;
  }
}

function viewAt(placed: Placed, now: number): RunView {
  const { run } = placed.recording;
  if (now < placed.offset) {
    return { id: run.id, scenario: run.scenario, summary: null, events: [], phase: 'queued', startedAt: run.startedAt };
  }
  const events = placed.events.filter((e) => e.t <= now).map((e) => e.event).sort((a, b) => a.seq - b.seq);
  const { events: _all, ...summary } = run;
  if (now >= placed.endT) return { id: run.id, scenario: run.scenario, summary, events, phase: run.status === 'failed' ? 'failed' : 'finished', startedAt: run.startedAt };
  // While it plays: what the server had said by then (no verdict, no mechanism, no final pool yet).
  const playing = { ...summary, status: 'running' as const, finishedAt: null, verdict: null, mechanism: null, poolAfter: null };
  return { id: run.id, scenario: run.scenario, summary: playing, events, phase: events.some((e) => e.kind !== 'queued') ? 'running' : 'queued', startedAt: run.startedAt };
}
