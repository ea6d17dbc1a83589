/**
 * A private redis-server for when REDIS_URL is not set: on a free loopback port,
 * nothing written to disk, and gone when we are. Tests use the same code to get
 * a Redis of their own instead of the machine's shared one.
 */
import { spawn, spawnSync } from 'node:child_process';
import { Socket, createServer } from 'node:net';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export class RedisNotInstalledError extends Error {
  override name = 'RedisNotInstalledError';
  constructor() {
    super(
      'No Redis to talk to: REDIS_URL is not set, and no `redis-server` was found on PATH to start a private one. ' +
        'Install Redis 7 (Debian/Ubuntu: `sudo apt-get install redis-server`; macOS: `brew install redis`) and run again, ' +
        'or point REDIS_URL at a Redis you already have, e.g. `REDIS_URL=redis://127.0.0.1:6379 npm start`.',
    );
  }
}

export interface PrivateRedis {
  url: string;
  port: number;
  stop(): Promise<void>;
}

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.unref();
    probe.on('error', reject);
    probe.listen(0, '127.0.0.1', () => {
      const address = probe.address();
      probe.close(() => (typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no port'))));
    });
  });
}

export function redisServerInstalled(binary = 'redis-server'): boolean {
  return spawnSync(binary, ['--version'], { stdio: 'ignore' }).status === 0;
}

export async function startPrivateRedis(options: { binary?: string; extraArgs?: string[] } = {}): Promise<PrivateRedis> {
  const binary = options.binary ?? 'redis-server';
  if (!redisServerInstalled(binary)) throw new RedisNotInstalledError();
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'idem-redis-'));
  const args = [
    '--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir,
    '--protected-mode', 'yes', '--loglevel', 'warning', ...(options.extraArgs ?? []),
  ];
  // If we die without cleaning up (SIGKILL), nothing would stop redis-server: this shell
  // watches our pid and takes Redis down with us. It exits when Redis exits.
  // `sleep 1 & wait $!`, not `sleep 1`: a trap runs only between commands, and `wait` is the one a signal interrupts.
  const watchdog = `"$0" "$@" & r=$!; trap 'kill $r 2>/dev/null; wait $r; exit' TERM INT; ` +
    `while kill -0 ${process.pid} 2>/dev/null && kill -0 $r 2>/dev/null; do sleep 1 & wait $!; done; kill $r 2>/dev/null; wait $r; ` +
    // Its working folder (empty: persistence is off) goes with it, whoever stopped it.
    `rm -rf '${dir}'`;
  // A process group of its own: Ctrl-C in a terminal signals the whole foreground group, and Redis
  // must stay up until the server has finished with it (the server stops it last).
  const child = spawn('sh', ['-c', watchdog, binary, ...args], { stdio: ['ignore', 'ignore', 'pipe'], detached: true });
  let stderr = '';
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));

  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const killOnExit = () => child.kill('SIGTERM');
  process.once('exit', killOnExit);

  const stop = async () => {
    process.removeListener('exit', killOnExit);
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
    await exited;
    rmSync(dir, { recursive: true, force: true });
  };

  try {
    await waitForPort(port, () => child.exitCode !== null, 10_000);
  } catch (error) {
    await stop();
    throw new Error(`redis-server did not start on port ${port}: ${(error as Error).message}${stderr ? `\n${stderr}` : ''}`);
  }
  return { url: `redis://127.0.0.1:${port}`, port, stop };
}

async function waitForPort(port: number, gaveUp: () => boolean, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (gaveUp()) throw new Error('it exited');
    const open = await new Promise<boolean>((resolve) => {
      const socket = new Socket();
      socket.once('connect', () => {
        socket.write('PING\r\n');
      });
      socket.once('data', (data) => {
        socket.destroy();
        resolve(data.toString().startsWith('+PONG'));
      });
      socket.once('error', () => resolve(false));
      socket.connect(port, '127.0.0.1');
    });
    if (open) return;
    if (Date.now() > deadline) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 50));
  }
}
