/**
 * `npm run bench:hostile`: does one hostile client slow the others down?
 *
 * A server (`server/main.ts`, private Redis, no task workers) runs in its own
 * process; the attackers run in another, one after the other:
 *  - `acked` (bench/hostile/attacker.ts): one session, a burst of releases from many
 *    sockets, then every event from 300 sockets as fast as answered;
 *  - `flood` (bench/hostile/flooder.ts): 300 sockets emitting every client event as
 *    fast as their connections take them, never waiting for an answer, reconnecting
 *    at once when cut off, without a cookie when refused.
 * This process is a normal viewer and the presenter, each timing its own requests,
 * first with nobody attacking (baseline), then during the attack.
 *
 *   npm run bench:hostile -- [--attack acked,flood] [--sockets 300] [--duration 20000] [--server-dir <checkout>]
 *
 * `--server-dir` runs the server of another checkout (built: `npx vite build` there),
 * to measure a version before the defences against the same load.
 */
import { fork, spawn, type ChildProcess } from 'node:child_process';
import { loadavg } from 'node:os';
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
    attack: { type: 'string', default: 'acked,flood' },
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

/** Runs `script` as the attacker; resolves when it says the attack proper began, and when it exits with its report. */
function startAttacker(script: string, args: string[]): { begun: Promise<void>; report: Promise<unknown> } {
  const child = fork(fileURLToPath(new URL(script, import.meta.url)), args, { execArgv: ['--import', 'tsx'], stdio: ['ignore', 'pipe', 'inherit', 'ipc'] });
  let out = '';
  child.stdout!.on('data', (chunk: Buffer) => (out += chunk.toString()));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  return {
    // The acked attacker's burst comes first and says when its hammer starts; the flood starts at once.
    begun: script === './attacker.ts' ? new Promise<void>((resolve) => child.once('message', () => resolve())) : Promise.resolve(),
    report: exited.then(() => JSON.parse(out.trim().split('\n').at(-1) ?? '{}') as unknown),
  };
}

const GOALS = {
  acked: { goal: 'p99 < 250 ms for the viewer and the presenter under attack', measured: (name: string) => name !== 'presenter GET /api/pool' },
  flood: { goal: 'p99 < 250 ms for the presenter (GET /api/pool), the viewer and /healthz under attack', measured: (name: string) => !name.includes('pool:reset') },
} as const;

const server = await startServer(values['server-dir']!);
try {
  const presenter = await connect(server.url, { authorization: `Bearer ${SECRET}` });
  for (const panel of AudiencePanel.options) await ack(presenter, 'panel:open', { panel, open: true }).catch(() => {});
  const viewerCookie = await sessionCookie(server.url);
  const viewer = await connect(server.url, { cookie: viewerCookie });
  const get = (path: string, headers: Record<string, string>) => async () => {
    const response = await fetch(`${server.url}${path}`, { headers });
    await response.arrayBuffer();
    if (!response.ok) throw new Error(String(response.status));
  };

  const timers = [
    timer('viewer pool:watch (socket)', 100, () => ack(viewer, 'pool:watch', {})),
    timer('viewer GET /api/pool', 100, get('/api/pool', { cookie: viewerCookie })),
    timer('presenter pool:reset attempt-1 (socket)', 200, () => ack(presenter, 'pool:reset', { pool: 'attempt-1' })),
    timer('presenter GET /api/pool', 100, get('/api/pool', { authorization: `Bearer ${SECRET}` })),
    timer('GET /healthz', 200, get('/healthz', {})),
  ];

  const attacks: Record<string, unknown> = {};
  for (const attack of values.attack!.split(',') as (keyof typeof GOALS)[]) {
    for (const t of timers) t.take();
    await new Promise((resolve) => setTimeout(resolve, 5000));
    const baseline = timers.map((t) => t.take());
    const attackerCookie = await sessionCookie(server.url);
    const attacker = attack === 'acked'
      ? startAttacker('./attacker.ts', [server.url, attackerCookie, values.sockets!, values.duration!, values['burst-sockets']!, values['burst-each']!])
      : startAttacker('./flooder.ts', [server.url, attackerCookie, values.sockets!, values.duration!]);
    await attacker.begun;
    for (const t of timers) t.take();
    const report = await attacker.report;
    const underAttack = timers.map((t) => t.take());
    const { goal, measured } = GOALS[attack];
    attacks[attack] = { attacker: report, baseline, underAttack, goal, met: underAttack.filter((r) => measured(r.name)).every((r) => r.p99 < 250 && r.timeouts === 0 && r.failures === 0) };
    // Let the server settle (bans run out, sockets close) before the next attack's baseline.
    await new Promise((resolve) => setTimeout(resolve, 12_000));
  }
  await Promise.all(timers.map((t) => t.stop()));
  presenter.close();
  viewer.close();

  const report = { serverDir: values['server-dir'], sockets: Number(values.sockets), durationMs: Number(values.duration), loadAverage: loadavg().map((l) => Number(l.toFixed(2))), attacks };
  process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
} finally {
  server.child.kill('SIGTERM');
}
