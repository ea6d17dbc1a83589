/**
 * A private redis-server for when REDIS_URL is not set: on a free loopback port,
 * nothing written to disk, and gone when we are. Tests use the same code to get
 * a Redis of their own instead of the machine's shared one.
 */
import { spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
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
  /** redis://:<password>@127.0.0.1:<port> */
  url: string;
  port: number;
  /** The random `requirepass` of this run: only who was given the url can talk to it. */
  password: string;
  /** The redis-server process id (what a fault test SIGKILLs). */
  pid: number;
  /** Resolves when Redis has gone, whether stop() took it down or it died. */
  exited: Promise<void>;
  stop(): Promise<void>;
}

export interface PrivateRedisOptions {
  binary?: string;
  extraArgs?: string[];
  /** A given port (a restart keeps its port); default a free one. */
  port?: number;
  /** Default: a fresh random one. */
  password?: string;
}

export function newRedisPassword(): string {
  return randomBytes(18).toString('base64url');
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

export async function startPrivateRedis(options: PrivateRedisOptions = {}): Promise<PrivateRedis> {
  const binary = options.binary ?? 'redis-server';
  if (!redisServerInstalled(binary)) throw new RedisNotInstalledError();
  if (options.port !== undefined) return startOn(binary, options.port, options);
  // A free port can be taken by another process between the probe and Redis binding it
  // (many servers and clients starting at once): a port we picked, we pick again.
  for (let attempt = 1; ; attempt++) {
    try {
      return await startOn(binary, await freePort(), options);
    } catch (error) {
      if (attempt === 3) throw error;
    }
  }
}

async function startOn(binary: string, port: number, options: PrivateRedisOptions): Promise<PrivateRedis> {
  const password = options.password ?? newRedisPassword();
  const dir = mkdtempSync(join(tmpdir(), 'idem-redis-'));
  // Loopback only, a password, and no way to reconfigure it from a client into writing files.
  const args = [
    '--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir,
    '--protected-mode', 'yes', '--loglevel', 'warning', '--requirepass', password, ...(options.extraArgs ?? []),
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

  let pid: number;
  try {
    pid = await waitForPort(port, password, () => child.exitCode !== null, 10_000);
  } catch (error) {
    await stop();
    throw new Error(`redis-server did not start on port ${port}: ${(error as Error).message}${stderr ? `\n${stderr}` : ''}`);
  }
  return { url: `redis://:${password}@127.0.0.1:${port}`, port, password, pid, exited, stop };
}

/** Waits until the Redis on `port` answers us (AUTH, then INFO), and returns its process id. */
async function waitForPort(port: number, password: string, gaveUp: () => boolean, timeoutMs: number): Promise<number> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (gaveUp()) throw new Error('it exited');
    const pid = await new Promise<number | null>((resolve) => {
      const socket = new Socket();
      let reply = '';
      const timer = setTimeout(() => {
        socket.destroy();
        resolve(null);
      }, 1000);
      socket.once('connect', () => {
        socket.write(`AUTH ${password}\r\nINFO server\r\n`);
      });
      socket.on('data', (data) => {
        reply += data.toString();
        const match = /process_id:(\d+)/.exec(reply);
        if (match || reply.startsWith('-')) {
          clearTimeout(timer);
          socket.destroy();
          resolve(match ? Number(match[1]) : null);
        }
      });
      socket.once('error', () => {
        clearTimeout(timer);
        resolve(null);
      });
      socket.connect(port, '127.0.0.1');
    });
    if (pid !== null) return pid;
    if (Date.now() > deadline) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 50));
  }
}
