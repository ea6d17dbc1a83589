/**
 * The hall: N viewers in this one process, each its own socket.io connection
 * (WebSocket, as phones on a good network use), all watching pool `main`. Every
 * message is timed on arrival against the server's `readAt` (one machine, one
 * clock) and counted per viewer, so the conductor can check that every broadcast
 * reached every viewer.
 *
 *   argv: <url> <viewers>
 */
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { io, type Socket } from 'socket.io-client';
import { onConductor, send } from './ipc.ts';
import { spread } from './stats.ts';

const [url, countText] = process.argv.slice(2);
const total = Number(countText);
const CONNECT_BATCH = 50;
const CONNECT_TIMEOUT_MS = 20_000;
// The events a viewer of a pool may receive (older servers sent the last two apart from the snapshot).
const EVENTS = ['pool:changed', 'pool:acted', 'release:double-detected'] as const;

let measuring = false;
const latencies: number[] = [];
const counts: Record<string, Uint32Array> = Object.fromEntries(EVENTS.map((event) => [event, new Uint32Array(total)]));
const sockets: Socket[] = [];
let disconnected = 0;
const lag = monitorEventLoopDelay({ resolution: 10 });

function viewer(index: number): Promise<void> {
  const socket = io(url!, { transports: ['websocket'], forceNew: true, reconnection: false, timeout: CONNECT_TIMEOUT_MS });
  sockets.push(socket);
  socket.on('pool:changed', (snapshot: { readAt: number }) => {
    if (!measuring) return;
    latencies.push(Date.now() - snapshot.readAt);
    counts['pool:changed']![index]!++;
  });
  for (const event of EVENTS.slice(1)) {
    socket.on(event, () => {
      if (measuring) counts[event]![index]!++;
    });
  }
  socket.on('disconnect', () => disconnected++);
  return new Promise((resolve, reject) => {
    socket.once('connect_error', reject);
    socket.once('connect', () => {
      socket.timeout(CONNECT_TIMEOUT_MS).emit('pool:watch', { pool: 'main' }, (error: Error | null, ack: { ok: boolean }) => {
        if (error || !ack.ok) reject(error ?? new Error(`watch refused: ${JSON.stringify(ack)}`));
        else resolve();
      });
    });
  });
}

const started = Date.now();
for (let i = 0; i < total; i += CONNECT_BATCH) {
  await Promise.all(Array.from({ length: Math.min(CONNECT_BATCH, total - i) }, (_, j) => viewer(i + j)));
}
send({ type: 'ready', connectMs: Date.now() - started });

onConductor((message) => {
  if (message.type === 'measure') {
    measuring = true;
    lag.enable();
  } else if (message.type === 'report') {
    measuring = false;
    lag.disable();
    const delivery = Object.fromEntries(
      EVENTS.map((event) => {
        const perViewer = counts[event]!;
        return [event, { min: Math.min(...perViewer), max: Math.max(...perViewer) }];
      }),
    );
    send({
      type: 'viewers',
      report: {
        viewers: total,
        connected: sockets.filter((s) => s.connected).length,
        disconnected,
        delivery,
        fanOut: spread(latencies),
        loopLagP99Ms: lag.percentile(99) / 1e6,
      },
      counts: {},
    });
    for (const socket of sockets) socket.disconnect();
  }
});
