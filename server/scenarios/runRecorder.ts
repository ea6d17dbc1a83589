/**
 * One run's record while it plays: every timeline event gets the next sequence
 * number and is announced at once (so panels draw it as it happens); every
 * invariant check is an event carrying the snapshot it judged, and the run's
 * verdict is derived from the events (runVerdict.ts). The record is plain JSON:
 * what the panels show live is exactly what a replay can play back.
 */
import { EventEmitter } from 'node:events';
import {
  RUN_FORMAT_VERSION,
  type AnyFaultName,
  type PoolSnapshot,
  type ReleaseKind,
  type RunRecord,
  type RunSummary,
  type RuntimeName,
  type ScenarioName,
  type TimelineEntry,
  type TimelineEvent,
} from '../protocol.ts';
import { checkInvariant } from '../pool/invariant.ts';
import { checkStep, runVerdict } from './runVerdict.ts';

/** An event as a scenario adds it: kind, words and data, where, and optionally when. */
export type NewEvent = TimelineEntry & { lane: string; at?: number; pid?: number | null };

export class RunRecorder extends EventEmitter<{ event: [event: TimelineEvent] }> {
  readonly record: RunRecord;

  constructor(id: string, scenario: ScenarioName, release: ReleaseKind, fault: AnyFaultName, pool: string, runtime: RuntimeName = 'bullmq') {
    super();
    this.record = {
      formatVersion: RUN_FORMAT_VERSION,
      id,
      scenario,
      release,
      fault,
      runtime,
      pool,
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

  /** A recorder for a record as stored, to end a run another instance was playing. */
  static resume(record: RunRecord): RunRecorder {
    const recorder = new RunRecorder(record.id, record.scenario, record.release, record.fault, record.pool, record.runtime);
    Object.assign(recorder.record, structuredClone(record));
    return recorder;
  }

  add(event: NewEvent): TimelineEvent {
    const full: TimelineEvent = { ...event, seq: this.record.events.length + 1, at: event.at ?? Date.now(), pid: event.pid ?? null };
    this.record.events.push(full);
    this.emit('event', full);
    return full;
  }

  /** Checks the pool's invariant on `snapshot` and records the check with what it judged. */
  addCheck(snapshot: PoolSnapshot, after: string, finishedEvals: readonly string[] = []): void {
    const verdict = checkStep(snapshot, finishedEvals);
    this.add({ lane: 'server', kind: 'invariant', text: `after ${after}: ${verdict.summary}`, data: { after, snapshot, finishedEvals: [...finishedEvals], verdict } });
  }

  /** One executor handed to several evals at once: a problem no snapshot shows. */
  addConflict(executor: string, evals: string[]): void {
    const problem = `${executor} handed to ${evals.join(' and ')} at once: two jobs on one executor`;
    this.add({ lane: 'server', kind: 'conflict', text: problem, data: { executor, evals, problem } });
  }

  setPoolBefore(snapshot: PoolSnapshot): void {
    this.record.poolBefore = snapshot;
  }

  finish(poolAfter: PoolSnapshot, mechanism: string | null): RunRecord {
    this.record.poolAfter = poolAfter;
    this.record.mechanism = mechanism;
    this.record.verdict = runVerdict(this.record.events, checkInvariant(poolAfter));
    this.record.status = 'finished';
    this.record.finishedAt = Date.now();
    return this.record;
  }

  fail(error: unknown): RunRecord {
    this.record.status = 'failed';
    this.record.error = error instanceof Error ? error.message : String(error);
    this.record.finishedAt = Date.now();
    this.add({ lane: 'server', kind: 'error', text: `run failed: ${this.record.error}`, data: { message: this.record.error } });
    return this.record;
  }

  summary(): RunSummary {
    const { events: _events, ...summary } = this.record;
    return summary;
  }
}
