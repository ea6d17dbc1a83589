/**
 * The hostile client of `npm run bench:hostile`, in a process of its own: one
 * session (one cookie) behind many sockets. First a burst (each socket fires N
 * releases at once), then a hammer: every socket sends every event, over and over,
 * as fast as it is answered. Prints one JSON line with what it got.
 */
import { io, type Socket } from 'socket.io-client';

const [url = '', cookie = '', socketsArg = '300', durationArg = '20000', burstSocketsArg = '500', burstEachArg = '10'] = process.argv.slice(2);
const SOCKETS = Number(socketsArg);
const DURATION_MS = Number(durationArg);
const BURST_SOCKETS = Number(burstSocketsArg);
const BURST_EACH = Number(burstEachArg);
const ACK_TIMEOUT_MS = 2000;

const EVENTS: [string, unknown][] = [
  ['pool:watch', {}],
  ['pool:allocate', { evalId: 'eval-hostile' }],
  ['pool:release', { executor: 'executor-1' }],
  ['pool:double-release', { executor: 'executor-1' }],
  ['runs:watch', {}],
  ['run:start', { scenario: 'atomic-allocation' }],
];

function open(): Promise<Socket | null> {
  const socket = io(url, { transports: ['websocket'], forceNew: true, reconnection: false, extraHeaders: { cookie } });
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve(null), 10_000);
    socket.once('connect', () => (clearTimeout(timer), resolve(socket)));
    socket.once('connect_error', () => (clearTimeout(timer), socket.close(), resolve(null)));
  });
}

async function send(socket: Socket, event: string, payload: unknown): Promise<string> {
  try {
    const reply = (await socket.timeout(ACK_TIMEOUT_MS).emitWithAck(event, payload)) as { ok: boolean; error?: string };
    return reply.ok ? 'ok' : (reply.error ?? 'error');
  } catch {
    return socket.connected ? 'timeout' : 'disconnected';
  }
}

const tally = (counts: Record<string, number>, key: string) => void (counts[key] = (counts[key] ?? 0) + 1);

async function burst(): Promise<Record<string, unknown>> {
  const sockets = (await Promise.all(Array.from({ length: BURST_SOCKETS }, open))).filter((s): s is Socket => s !== null);
  const counts: Record<string, number> = {};
  const t0 = Date.now();
  await Promise.all(sockets.flatMap((socket) => Array.from({ length: BURST_EACH }, async () => tally(counts, await send(socket, 'pool:release', { executor: 'executor-1' })))));
  const ms = Date.now() - t0;
  for (const socket of sockets) socket.close();
  return { sockets: sockets.length, releases: BURST_SOCKETS * BURST_EACH, replies: counts, ms };
}

async function hammer(): Promise<Record<string, unknown>> {
  const counts: Record<string, number> = {};
  let opened = 0;
  let refusedHandshakes = 0;
  let disconnects = 0;
  const until = Date.now() + DURATION_MS;
  await Promise.all(
    Array.from({ length: SOCKETS }, async () => {
      while (Date.now() < until) {
        const socket = await open();
        if (!socket) {
          refusedHandshakes++;
          await new Promise((resolve) => setTimeout(resolve, 200));
          continue;
        }
        opened++;
        while (socket.connected && Date.now() < until) {
          const replies = await Promise.all(EVENTS.map(([event, payload]) => send(socket, event, payload)));
          for (const reply of replies) tally(counts, reply);
        }
        if (!socket.connected) disconnects++;
        socket.close();
      }
    }),
  );
  const sent = Object.values(counts).reduce((a, b) => a + b, 0);
  return { sockets: SOCKETS, opened, refusedHandshakes, disconnects, sent, perSecond: Math.round(sent / (DURATION_MS / 1000)), replies: counts };
}

const burstResult = BURST_SOCKETS > 0 ? await burst() : null;
process.send?.({ phase: 'hammer' });
const hammerResult = await hammer();
process.stdout.write(`${JSON.stringify({ burst: burstResult, hammer: hammerResult })}\n`);
process.exit(0);
