/**
 * The messages between a chaos round's conductor (bench/chaos/driveRound.ts) and
 * its child processes: the simulated phones and the presenter's probe. Each is a
 * process of its own, so the phones' load cannot delay the presenter's timings.
 */
import type { Spread } from '../audience/stats.ts';

export interface PhonesReport {
  phones: number;
  connected: number;
  sent: number;
  accepted: number;
  /** Refused taps by error code (rate_limited, forbidden, timeout...). */
  refused: Record<string, number>;
  /** `chaos:changed` messages: the most any phone got in one second (the tick's cap is per viewer). */
  maxMessagesPerSecond: number;
  messages: number;
  /** Taps sent before any round was open and after it closed, and how many of those were refused. */
  outside: { sent: number; refused: number };
}

export interface ProbeReport {
  requests: number;
  failed: number;
  latency: Spread;
}

export type ToChild = { type: 'stop' } | { type: 'round'; id: string };
export type FromChild =
  | { type: 'ready' }
  | { type: 'phones'; report: PhonesReport }
  | { type: 'probe'; report: ProbeReport }
  | { type: 'failed'; error: string };

export function send(message: FromChild): void {
  process.send?.(message);
}
