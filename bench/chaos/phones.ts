/**
 * Simulated phones for a chaos round: N socket.io connections in this one
 * process, each a viewer session of its own (a cookie from a first request, shown
 * in its socket's handshake, as a phone's browser does). Each phone watches the round and, while it is open, taps like a
 * person: a press held for a while (mostly short, sometimes long), a pause, again.
 * The hold is what the server times the eval by; the tap is sent on release.
 *
 * Before the round opens, each phone sends one tap for a round that is not open
 * (refused, counted apart). Loopback only: the url must be 127.0.0.1 / localhost.
 *
 *   argv: <url> <phones> [seed]
 */
import { io, type Socket } from 'socket.io-client';
import type { ChaosRoundState } from '../../server/protocol.ts';
import { send, type PhonesReport, type ToChild } from './ipc.ts';

const [url, countText, seedText] = process.argv.slice(2);
if (!url || !/^http:\/\/(127\.0\.0\.1|localhost|\[::1\]):\d+$/.test(url)) throw new Error(`phones: a loopback url, not ${url}`);
const total = Number(countText);
const CONNECT_BATCH = 50;
const TIMEOUT_MS = 10_000;

// A small seeded generator: a run's pattern of holds can be played again.
let seed = Number(seedText ?? 1) >>> 0 || 1;
const random = () => ((seed = (seed * 1664525 + 1013904223) >>> 0) / 2 ** 32);
const between = (low: number, high: number) => Math.round(low + random() * (high - low));
/** Mostly quick taps, some held, a few long presses: once, double and late deliveries. */
const nextHold = () => {
  const r = random();
  return r < 0.55 ? between(40, 290) : r < 0.8 ? between(300, 790) : between(800, 1500);
};

type Ack = { ok: true; data: unknown } | { ok: false; error: string };
const report: PhonesReport = { phones: total, connected: 0, sent: 0, accepted: 0, refused: {}, maxMessagesPerSecond: 0, messages: 0, outside: { sent: 0, refused: 0 } };
const sockets: Socket[] = [];
let stopped = false;

/** A viewer session of its own, as a phone's browser gets with its first page: the cookie its socket then shows. */
async function sessionCookie(): Promise<string> {
  const response = await fetch(`${url}/healthz`, { signal: AbortSignal.timeout(TIMEOUT_MS) });
  await response.arrayBuffer();
  const cookie = response.headers.get('set-cookie')?.split(';')[0];
  if (!cookie) throw new Error('the site issued no session cookie');
  return cookie;
}

async function phone(): Promise<void> {
  const cookie = await sessionCookie();
  const socket = io(url!, { transports: ['websocket'], forceNew: true, reconnection: false, timeout: TIMEOUT_MS, extraHeaders: { cookie } });
  sockets.push(socket);
  let roundId: string | null = null;
  let tapping = false;
  let second = 0;
  let inSecond = 0;
  const tapLoop = async () => {
    if (tapping) return;
    tapping = true;
    await new Promise((resolve) => setTimeout(resolve, between(0, 800)));
    while (roundId && !stopped && socket.connected) {
      const hold = nextHold();
      await new Promise((resolve) => setTimeout(resolve, hold));
      if (!roundId) break;
      report.sent++;
      try {
        const ack = (await socket.timeout(TIMEOUT_MS).emitWithAck('chaos:tap', { roundId, hold })) as Ack;
        if (ack.ok) report.accepted++;
        else report.refused[ack.error] = (report.refused[ack.error] ?? 0) + 1;
      } catch {
        report.refused.timeout = (report.refused.timeout ?? 0) + 1;
      }
      await new Promise((resolve) => setTimeout(resolve, between(150, 700)));
    }
    tapping = false;
  };
  socket.on('chaos:changed', (state: ChaosRoundState) => {
    report.messages++;
    const now = Math.floor(Date.now() / 1000);
    if (now !== second) {
      second = now;
      inSecond = 0;
    }
    report.maxMessagesPerSecond = Math.max(report.maxMessagesPerSecond, ++inSecond);
    roundId = state.status === 'open' && Date.now() < state.closesAt ? state.id : null;
    if (roundId) void tapLoop();
  });
  return new Promise((resolve, reject) => {
    socket.once('connect_error', reject);
    socket.once('connect', async () => {
      try {
        const watch = (await socket.timeout(TIMEOUT_MS).emitWithAck('chaos:watch', {})) as Ack;
        if (!watch.ok) throw new Error(`watch refused: ${JSON.stringify(watch)}`);
        // A tap while no round is open (or for a round that does not exist): must be refused.
        report.outside.sent++;
        const outside = (await socket.timeout(TIMEOUT_MS).emitWithAck('chaos:tap', { roundId: 'rnotopen0', hold: 100 })) as Ack;
        if (!outside.ok) report.outside.refused++;
        resolve();
      } catch (error) {
        reject(error);
      }
    });
  });
}

for (let i = 0; i < total; i += CONNECT_BATCH) {
  await Promise.all(Array.from({ length: Math.min(CONNECT_BATCH, total - i) }, () => phone()));
}
report.connected = sockets.filter((s) => s.connected).length;
send({ type: 'ready' });

process.on('message', (message: ToChild) => {
  if (message.type !== 'stop') return;
  stopped = true;
  report.connected = sockets.filter((s) => s.connected).length;
  for (const socket of sockets) socket.disconnect();
  send({ type: 'phones', report });
});
process.on('disconnect', () => process.exit(0));
