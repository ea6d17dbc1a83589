/**
 * The messages between the benchmark's conductor and its child processes (servers,
 * the viewers, the acting client). Each child is a process of its own, so no one
 * part's event loop can delay another's; all share the machine's clock.
 */
import type { Spread } from './stats.ts';

/** `nginx1`, `nginx2`: the site as `npm run cluster` runs it, 1 or 2 instances behind nginx. */
export type ServerKind = 'ours' | 'bare' | 'nginx1' | 'nginx2';

export interface ServerUsage {
  /** Broadcasts to the watched pool's room, by event name, since `measure`. */
  broadcasts: Record<string, number>;
  /** CPU ms of the server process (and of its Redis, for ours) over the window. */
  cpuMs: number;
  redisCpuMs: number | null;
  /** nginx's CPU ms (master and workers) over the window, behind nginx. */
  nginxCpuMs?: number;
  /** Commands Redis ran over the window (INFO commandstats, the commands scripts call included), behind nginx. */
  redisCalls?: number;
  /** Peak resident memory of the server process over the window, MB. */
  rssMaxMb: number;
  heapUsedMb: number;
  windowMs: number;
  /** The server's own event-loop delay p99 over the window (ms). */
  loopLagP99Ms: number;
}

export interface ViewerReport {
  viewers: number;
  connected: number;
  disconnected: number;
  /** Per event name: how many viewers got exactly `expected` messages, and the least/most any got. */
  delivery: Record<string, { min: number; max: number }>;
  /** Arrival time minus the server's readAt, every message of every viewer (ms). */
  fanOut: Spread;
  /** The viewers process's own event-loop delay p99 (ms): how saturated the generator was. */
  loopLagP99Ms: number;
}

export interface ActorReport {
  sent: number;
  acked: number;
  failed: Record<string, number>;
  ack: Spread;
  loopLagP99Ms: number;
}

export type ToChild = { type: 'measure' } | { type: 'report' } | { type: 'go'; actions: number; intervalMs: number };
export type FromChild =
  | { type: 'ready'; url?: string; connectMs?: number }
  | { type: 'usage'; usage: ServerUsage }
  | { type: 'viewers'; report: ViewerReport; counts: Record<string, number[]> }
  | { type: 'actor'; report: ActorReport }
  | { type: 'failed'; error: string };

export function send(message: FromChild): void {
  process.send?.(message);
}

/** Calls `handler` for every message the conductor sends; exits when the conductor goes away. */
export function onConductor(handler: (message: ToChild) => void | Promise<void>): void {
  process.on('message', (message: ToChild) => {
    Promise.resolve(handler(message)).catch((error: unknown) => send({ type: 'failed', error: String(error) }));
  });
  process.on('disconnect', () => process.exit(0));
}
