/**
 * The acting client (the presenter), in a process of its own so the hall's event loop cannot
 * delay it: on `go` it fires allocate / release alternately on a fixed schedule
 * (not waiting for answers, as clicks don't), and times each ack.
 *
 *   argv: <url>
 */
import { monitorEventLoopDelay, performance } from 'node:perf_hooks';
import { io } from 'socket.io-client';
import { onConductor, send } from './ipc.ts';
import { spread } from './stats.ts';

const [url] = process.argv.slice(2);
const ACK_TIMEOUT_MS = 10_000;
const lag = monitorEventLoopDelay({ resolution: 10 });

// The presenter: it may act whatever panels are open, and no viewer limit applies to it.
const socket = io(url!, {
  transports: ['websocket'],
  forceNew: true,
  reconnection: false,
  extraHeaders: { authorization: `Bearer ${process.env.BENCH_PRESENTER_SECRET ?? 'bench-presenter-secret'}` },
});
await new Promise<void>((resolve, reject) => {
  socket.once('connect', () => resolve());
  socket.once('connect_error', reject);
});
send({ type: 'ready' });

function fire(total: number, intervalMs: number): Promise<void> {
  const ackMs: number[] = [];
  const failed: Record<string, number> = {};
  const held: string[] = [];
  let sent = 0;
  let answered = 0;
  lag.enable();
  return new Promise((resolve) => {
    const finish = () => {
      lag.disable();
      send({ type: 'actor', report: { sent, acked: ackMs.length, failed, ack: spread(ackMs), loopLagP99Ms: lag.percentile(99) / 1e6 } });
      resolve();
    };
    const act = (n: number) => {
      const allocate = n % 2 === 0;
      const event = allocate ? 'pool:allocate' : 'pool:release';
      const payload = allocate ? { evalId: `eval-bench-${n}`, pool: 'main' } : { executor: held.shift() ?? 'executor-1', pool: 'main' };
      const sentAt = performance.now();
      sent++;
      socket.timeout(ACK_TIMEOUT_MS).emit(event, payload, (error: Error | null, ack: { ok: boolean; error?: string; data?: { executor?: string } }) => {
        answered++;
        if (error) failed.timeout = (failed.timeout ?? 0) + 1;
        else if (!ack.ok) failed[ack.error ?? 'error'] = (failed[ack.error ?? 'error'] ?? 0) + 1;
        else {
          ackMs.push(performance.now() - sentAt);
          if (allocate && ack.data?.executor) held.push(ack.data.executor);
        }
        if (answered === total) finish();
      });
    };
    // A fixed schedule from one start time: a late tick fires what is due, it doesn't shift the rest.
    const start = performance.now();
    let next = 0;
    const tick = () => {
      while (next < total && performance.now() - start >= next * intervalMs) act(next++);
      if (next < total) setTimeout(tick, Math.max(0, start + next * intervalMs - performance.now()));
    };
    tick();
  });
}

onConductor(async (message) => {
  if (message.type === 'go') {
    await fire(message.actions, message.intervalMs);
    socket.disconnect();
  }
});
