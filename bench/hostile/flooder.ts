/**
 * The max-rate attacker of `npm run bench:hostile`, in a process of its own: many
 * sockets, each writing every client event as fast as its connection takes them,
 * never waiting for an answer. It speaks socket.io's wire format itself over a bare
 * websocket (frames encoded once, written over and over), so the attacker's own CPU
 * is no limit. A socket that is cut off reconnects at once; one that is refused drops
 * its cookie and comes back without one (a fresh session each time, as a script that
 * mints sessions would). Prints one JSON line with what it got.
 *
 *   node --import tsx bench/hostile/flooder.ts <url> <cookie> <sockets> <durationMs>
 */
import WebSocket from 'ws';

const [url = '', cookie = '', socketsArg = '300', durationArg = '20000'] = process.argv.slice(2);
const SOCKETS = Number(socketsArg);
const DURATION_MS = Number(durationArg);
/** Frames written per turn of the loop; more only once the socket's buffer has gone out. */
const PER_TURN = 60;
const MAX_BUFFERED = 64 * 1024;

const EVENTS: [string, unknown][] = [
  ['pool:watch', {}],
  ['pool:allocate', { evalId: 'eval-flood' }],
  ['pool:release', { executor: 'executor-1' }],
  ['pool:double-release', { executor: 'executor-1' }],
  ['runs:watch', {}],
  ['run:start', { scenario: 'atomic-allocation' }],
  ['hall:join', {}],
  ['hall:follow', { following: true, h: 0, v: 0 }],
  ['chaos:watch', {}],
  ['chaos:tap', { roundId: 'round-x', hold: 0 }],
  ['deck:move', { h: 1, v: 0 }],
  ['hall:console', {}],
];
/** socket.io EVENT packets with an ack id, as engine.io MESSAGE frames: `42<id>["event",payload]`. */
const FRAMES = EVENTS.map(([event, payload], i) => `42${i + 1}${JSON.stringify([event, payload])}`);

const counts = { sent: 0, answered: 0, opened: 0, refused: 0, cutOff: 0 };
const until = Date.now() + DURATION_MS;
const wsUrl = `${url.replace(/^http/, 'ws')}/socket.io/?EIO=4&transport=websocket`;

/** Opens a socket.io connection on a bare websocket; null when refused. */
function open(withCookie: boolean): Promise<WebSocket | null> {
  const ws = new WebSocket(wsUrl, { headers: withCookie && cookie ? { cookie } : {}, perMessageDeflate: false });
  return new Promise((resolve) => {
    const timer = setTimeout(() => (ws.terminate(), resolve(null)), 5000);
    const fail = () => (clearTimeout(timer), ws.terminate(), resolve(null));
    ws.once('error', fail);
    ws.once('unexpected-response', fail);
    ws.on('message', (data) => {
      const text = data.toString();
      if (text.startsWith('0')) ws.send('40'); // engine.io open: join the main namespace
      else if (text.startsWith('40')) (clearTimeout(timer), resolve(ws));
      else if (text.startsWith('44')) fail(); // namespace refused
      else if (text === '2') ws.send('3'); // ping
      else if (text.startsWith('43')) counts.answered++; // an ack
    });
  });
}

/** Writes frames on `ws` until it is cut off or time is up. */
function flood(ws: WebSocket): Promise<void> {
  return new Promise((resolve) => {
    ws.once('close', () => resolve());
    const turn = () => {
      if (ws.readyState !== WebSocket.OPEN || Date.now() >= until) return resolve();
      if (ws.bufferedAmount < MAX_BUFFERED) {
        for (let i = 0; i < PER_TURN; i++) ws.send(FRAMES[(counts.sent + i) % FRAMES.length]!);
        counts.sent += PER_TURN;
      }
      setImmediate(turn);
    };
    turn();
  });
}

async function attacker(): Promise<void> {
  let withCookie = true;
  while (Date.now() < until) {
    const ws = await open(withCookie);
    if (!ws) {
      counts.refused++;
      withCookie = false;
      await new Promise((resolve) => setTimeout(resolve, 20));
      continue;
    }
    counts.opened++;
    await flood(ws);
    if (ws.readyState !== WebSocket.OPEN) counts.cutOff++;
    ws.terminate();
  }
}

await Promise.all(Array.from({ length: SOCKETS }, attacker));
process.stdout.write(`${JSON.stringify({ sockets: SOCKETS, ...counts, sentPerSecond: Math.round(counts.sent / (DURATION_MS / 1000)) })}\n`);
process.exit(0);
