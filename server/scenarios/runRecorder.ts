/**
 * One run's record while it plays: every timeline event gets the next sequence
 * number and is announced at once (so panels draw it as it happens), and the
 * verdict gathers what every step's invariant check found. The record is plain
 * JSON: what the panels show live is exactly what a replay can play back.
 */
import { EventEmitter } from 'node:events';
import type { AnyFaultName, InvariantVerdict, PoolSnapshot, ReleaseKind, RunRecord, RunSummary, RuntimeName, ScenarioName, TimelineEvent } from '../protocol.ts';

export type NewEvent = Omit<TimelineEvent, 'seq' | 'at' | 'pid'> & { at?: number; pid?: number | null };

export class RunRecorder extends EventEmitter<{ event: [event: TimelineEvent] }> {
  readonly record: RunRecord;
  private readonly problems = new Set<string>();
  private everBroken = false;

  constructor(id: string, scenario: ScenarioName, options: { release: ReleaseKind; fault: AnyFaultName; runtime: RuntimeName }, pool: string) {
    super();
    const { release, fault, runtime } = options;
    this.record = {
      id, scenario, release, fault, runtime, pool,
      status: 'running',
      startedAt: Date.now(),
      finishedAt: null,
      mechanism: null,
      events: [],
      poolBefore: null,
      poolAfter: null,
      verdict: null,
      error: null,
    };
  }

  add(event: NewEvent): TimelineEvent {
    const full: TimelineEvent = { ...event, seq: this.record.events.length + 1, at: event.at ?? Date.now(), pid: event.pid ?? null };
    this.record.events.push(full);
    this.emit('event', full);
    return full;
  }

  /** Records a step's invariant check, and remembers its problems for the final verdict. */
  addVerdict(verdict: InvariantVerdict, after: string): void {
    if (!verdict.sound) this.everBroken = true;
    for (const problem of verdict.problems) this.problems.add(problem);
    this.add({ lane: 'server', kind: 'invariant', text: `after ${after}: ${verdict.summary}`, data: verdict });
  }

  /** A problem no snapshot shows, e.g. one executor handed to two evals at once. */
  addProblem(problem: string): void {
    this.everBroken = true;
    this.problems.add(problem);
  }

  setPoolBefore(snapshot: PoolSnapshot): void {
    this.record.poolBefore = snapshot;
  }

  finish(poolAfter: PoolSnapshot | null, finalCheck: InvariantVerdict | null, mechanism: string | null): RunRecord {
    this.record.poolAfter = poolAfter;
    this.record.mechanism = mechanism;
    if (finalCheck) {
      for (const problem of finalCheck.problems) this.problems.add(problem);
      const problems = [...this.problems];
      const sound = !this.everBroken && finalCheck.sound;
      this.record.verdict = {
        ...finalCheck,
        sound,
        problems,
        summary: sound
          ? finalCheck.summary
          : finalCheck.sound
            ? `Broken during the run (${problems.length} problem${problems.length === 1 ? '' : 's'}), though the pool looks whole now.`
            : finalCheck.summary,
      };
    }
    this.record.status = 'finished';
    this.record.finishedAt = Date.now();
    return this.record;
  }

  fail(error: unknown): RunRecord {
    this.record.status = 'failed';
    this.record.error = error instanceof Error ? error.message : String(error);
    this.record.finishedAt = Date.now();
    this.add({ lane: 'server', kind: 'error', text: `run failed: ${this.record.error}` });
    return this.record;
  }

  summary(): RunSummary {
    const { events: _events, ...summary } = this.record;
    return summary;
  }
}
