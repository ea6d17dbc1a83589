/**
 * `npm run bench:hostile`: does one hostile client slow the others down?
 *
 * A server (`server/main.ts`, private Redis, no task workers) runs in its own
 * process; the attacker runs in another (bench/hostile/attacker.ts: one session,
 * a burst of releases from many sockets, then every event from 300 sockets as fast
 * as answered); this process is a normal viewer and the presenter, each timing its
 * own requests, first with nobody attacking (baseline), then during the hammer.
 *
 *   npm run bench:hostile -- [--sockets 300] [--duration 20000] [--server-dir <checkout>]
 *
 * `--server-dir` runs the server of another checkout (built: `npx vite build` there),
 * to measure a version before the defences against the same load.
 */
import { fork, spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { io, type Socket } from 'socket.io-client';
import { AudiencePanel } from '../../server/protocol.ts';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const { values } = parseArgs({
  options: {
    sockets: { type: 'string', default: '300' },
    duration: { type: 'string', default: '20000' },
    'server-dir': { type: 'string', default: ROOT },
    'burst-sockets': { type: 'string', default: '500' },
    'burst-each': { type: 'string', default: '10' },
  },
});
const SECRET = 'bench-presenter-secret';
const TIMEOUT_MS = 5000;

function startServer(dir: string): Promise<{ url: string; child: ChildProcess }> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'server/main.ts'], {
    cwd: dir,
    env: { ...process.env, PORT: '0', HOST: '127.0.0.1', TASK_WORKERS: '0', PRESENTER_SECRET: SECRET, REDIS_URL: '' },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  return new Promise((resolve, reject) => {
    let buffered = '';
    const timer = setTimeout(() => reject(new Error('the server did not start within 60 s')), 60_000);
    child.stdout!.on('data', (chunk: Buffer) => {
      buffered += chunk.toString();
      const match = /"msg":"The Idempotency Challenge is live","url":"([^"]+)\//.exec(buffered);
      if (match) {
        clearTimeout(timer);
        buffered = '';
        resolve({ url: match[1]!, child });
      }
      if (buffered.length > 1e6) buffered = buffered.slice(-1e4);
    });
    child.once('exit', (code) => reject(new Error(`the server exited (${code})`)));
  });
}

async function sessionCookie(url: string): Promise<string> {
  const response = await fetch(`${url}/healthz`);
  await response.arrayBuffer();
  return (response.headers.get('set-cookie') ?? '').split(';')[0] ?? '';
}

function connect(url: string, headers: Record<string, string>): Promise<Socket> {
  const socket = io(url, { transports: ['websocket'], forceNew: true, extraHeaders: headers });
  return new Promise((resolve, reject) => {
    socket.once('connect', () => resolve(socket));
    socket.once('connect_error', reject);
  });
}

/** Times one request every `everyMs` until stopped; a request over TIMEOUT_MS counts as that long and as a timeout. */
function timer(name: string, everyMs: number, request: () => Promise<unknown>) {
  let samples: number[] = [];
  let timeouts = 0;
  let failures = 0;
  let running = true;
  const loop = (async () => {
    while (running) {
      const t0 = performance.now();
      try {
        await Promise.race([request(), new Promise((_, reject) => setTimeout(() => reject(new Error('timeout')), TIMEOUT_MS))]);
        samples.push(performance.now() - t0);
      } catch (error) {
        if ((error as Error).message === 'timeout') timeouts++;
        else failures++;
        samples.push(performance.now() - t0);
      }
      await new Promise((resolve) => setTimeout(resolve, everyMs));
    }
  })();
  return {
    name,
    take() {
      const sorted = [...samples].sort((a, b) => a - b);
      const at = (q: number) => Math.round(sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? NaN);
      const result = { name, n: sorted.length, p50: at(0.5), p99: at(0.99), max: Math.round(sorted.at(-1) ?? NaN), timeouts, failures };
      samples = [];
      timeouts = 0;
      failures = 0;
      return result;
    },
    async stop() {
      running = false;
      await loop;
    },
  };
}

async function ack(socket: Socket, event: string, payload: unknown): Promise<void> {
  const reply = (await socket.timeout(TIMEOUT_MS).emitWithAck(event, payload)) as { ok: boolean; error?: string };
  if (!reply.ok) throw new Error(reply.error);
}

const server = await startServer(values['server-dir']!);
try {
  const presenter = await connect(server.url, { authorization: `Bearer ${SECRET}` });
  for (const panel of AudiencePanel.options) await ack(presenter, 'panel:open', { panel, open: true }).catch(() => {});
  const viewerCookie = await sessionCookie(server.url);
  const viewer = await connect(server.url, { cookie: viewerCookie });

  const timers = [
    timer('viewer pool:watch (socket)', 100, () => ack(viewer, 'pool:watch', {})),
    timer('viewer GET /api/pool', 100, async () => {
      const response = await fetch(`${server.url}/api/pool`, { headers: { cookie: viewerCookie } });
      await response.arrayBuffer();
      if (!response.ok) throw new Error(String(response.status));
    }),
    timer('presenter pool:reset attempt-1 (socket)', 200, () => ack(presenter, 'pool:reset', { pool: 'attempt-1' })),
    timer('presenter GET /healthz', 200, async () => {
      const response = await fetch(`${server.url}/healthz`);
      await response.arrayBuffer();
      if (!response.ok) throw new Error(String(response.status));
    }),
  ];

  await new Promise((resolve) => setTimeout(resolve, 5000));
  const baseline = timers.map((t) => t.take());

  const attackerCookie = await sessionCookie(server.url);
  const attacker = fork(fileURLToPath(new URL('./attacker.ts', import.meta.url)), [
    server.url, attackerCookie, values.sockets!, values.duration!, values['burst-sockets']!, values['burst-each']!,
  ], { execArgv: ['--import', 'tsx'], stdio: ['ignore', 'pipe', 'inherit', 'ipc'] });
  let attackerOut = '';
  attacker.stdout!.on('data', (chunk: Buffer) => (attackerOut += chunk.toString()));
  // Measure during the hammer only: the burst comes first.
  await new Promise<void>((resolve) => attacker.once('message', () => resolve()));
  for (const t of timers) t.take();
  await new Promise<void>((resolve) => attacker.once('exit', () => resolve()));
  const underAttack = timers.map((t) => t.take());
  await Promise.all(timers.map((t) => t.stop()));
  presenter.close();
  viewer.close();

  const report = {
    serverDir: values['server-dir'],
    sockets: Number(values.sockets),
    durationMs: Number(values.duration),
    attacker: JSON.parse(attackerOut.trim().split('\n').at(-1) ?? '{}') as unknown,
    baseline,
    underAttack,
    goal: 'p99 < 250 ms for the viewer and the presenter under attack',
    met: underAttack.every((r) => r.p99 < 250 && r.timeouts === 0),
  };
  process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
} finally {
  server.child.kill('SIGTERM');
}
