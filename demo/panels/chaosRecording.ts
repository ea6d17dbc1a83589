/**
 * A recording of a real chaos round (slides/recordings/chaos/round.json, written
 * by `npm run record:chaos`): the states the server sent while simulated phones
 * tapped through it, and the final summary. The panel replays it where there is
 * no server, labelled as what it is.
 */
import type { ChaosRoundState } from '../../server/protocol.ts';

export const CHAOS_RECORDING_FORMAT = 'chaos-round-recording';

export interface ChaosRoundRecording {
  format: typeof CHAOS_RECORDING_FORMAT;
  formatVersion: 1;
  recordedAt: string;
  /** Simulated phones (bench/chaos/phones.ts), not people: the label says so. */
  phones: number;
  simulated: true;
  command: string;
  /** As the server sent them, once per tick (the chart's series only in the last). */
  states: ChaosRoundState[];
  final: ChaosRoundState;
}

export function formatRoundRecording(recording: ChaosRoundRecording): string {
  const day = new Date(recording.recordedAt).toLocaleDateString(undefined, { day: 'numeric', month: 'short', year: 'numeric' });
  return `Recording of a real round, ${day}: ${recording.phones.toLocaleString('en')} simulated phones tapping (${recording.command}), real scripts on a real Redis.`;
}
