/**
 * The recordings of real runs the deck ships (slides/recordings/, written by
 * `npm run record`): the index is part of the bundle, each recording a chunk of
 * its own, fetched when a panel needs it. Nothing here makes a recording up:
 * a panel with no recording of what it shows says so.
 */
import type { AnyFaultName, PoolSessionRecording, RecordingIndex, RunRecording, RuntimeName, ScenarioName } from '../../server/protocol.ts';
import indexJson from '../../slides/recordings/index.json';

export const RECORDINGS: RecordingIndex = indexJson as RecordingIndex;

const FILES = import.meta.glob<unknown>(['../../slides/recordings/*.json', '!../../slides/recordings/index.json'], { import: 'default' });

async function load(file: string): Promise<unknown> {
  const loader = FILES[`../../slides/recordings/${file}`];
  if (!loader) throw new Error(`recording ${file} is listed but not shipped`);
  return loader();
}

/** The faults a scenario was recorded under, in the index's order. */
export function recordedFaults(scenario: ScenarioName, runtime: RuntimeName = 'bullmq'): AnyFaultName[] {
  return RECORDINGS.recordings.flatMap((entry) =>
    entry.kind === 'run' && entry.scenario === scenario && (entry.runtime ?? 'bullmq') === runtime ? [entry.fault] : [],
  );
}

/** The recording of `scenario` under `fault` (or under the first fault it was recorded with), or null. */
export async function loadRunRecording(scenario: ScenarioName, fault?: AnyFaultName, runtime: RuntimeName = 'bullmq'): Promise<RunRecording | null> {
  const entries = RECORDINGS.recordings.filter((entry) => entry.kind === 'run' && entry.scenario === scenario && (entry.runtime ?? 'bullmq') === runtime);
  const entry = entries.find((e) => e.kind === 'run' && e.fault === fault) ?? entries[0];
  return entry ? ((await load(entry.file)) as RunRecording) : null;
}

export async function loadPoolSession(pool: string): Promise<PoolSessionRecording | null> {
  const entry = RECORDINGS.recordings.find((e) => e.kind === 'pool-session' && e.pool === pool);
  return entry ? ((await load(entry.file)) as PoolSessionRecording) : null;
}

/** "26 Nov 2026": the day a recording was made, in the reader's language. */
export function recordingDate(iso: string): string {
  return new Date(iso).toLocaleDateString(undefined, { day: 'numeric', month: 'short', year: 'numeric' });
}

/** "Redis 7.0.15 · BullMQ 6.7.0 · Node v20.20.2". */
export function recordingVersions(versions: RecordingIndex['versions']): string {
  return `Redis ${versions.redis} · BullMQ ${versions.bullmq} · Node ${versions.node}`;
}
