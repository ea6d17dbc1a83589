/**
 * Several instances of the site on this machine, as docs/DEPLOY.md describes them:
 * one Redis (a private one, or REDIS_URL), N instances of `server/main.ts`, each its
 * own process on its own port, all with one PRESENTER_SECRET, and Debian's nginx in
 * front with `deploy/nginx.conf`. Used by `npm run cluster`, by the test that kills
 * an instance mid-talk, and by the audience benchmark's cluster mode.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { freePort, startPrivateRedis, type PrivateRedis } from '../../server/redis/privateRedis.ts';
import { dieWithParent, waitForHttp } from './children.ts';
import { startNginx, type Nginx } from './nginx.ts';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
/** An instance that is not down by then is killed, so the whole cluster (Redis last) is down within 5 s. */
const STOP_DEADLINE_MS = 4000;
const START_TIMEOUT_MS = 90_000;

export interface ClusterOptions {
  instances: number;
  /** Unset: a private redis-server, started again on the same port and password if it dies. */
  redisUrl?: string;
  /** Unset: one generated for the cluster. */
  presenterSecret?: string;
  /** nginx's port; 0 or unset: a free one. */
  port?: number;
  /** nginx's address (default 127.0.0.1; 0.0.0.0 for phones on the network). The instances listen on loopback. */
  host?: string;
  /** Where phones join (the instances' PUBLIC_URL); default nginx's address. */
  publicUrl?: string;
  /** More environment for every instance (e.g. TASK_WORKERS). */
  env?: Record<string, string>;
  /** Each line an instance writes; unset: dropped. */
  onOutput?: (instance: number, line: string, stream: 'stdout' | 'stderr') => void;
}

export interface Instance {
  /** 1-based, as printed. */
  n: number;
  port: number;
  pid: number;
  url: string;
  process: ChildProcess;
  /** Resolves when the process has exited, however. */
  exited: Promise<void>;
}

export interface Cluster {
  /** nginx, where browsers go. */
  url: string;
  presenterSecret: string;
  presenterSecretGenerated: boolean;
  presenterLink: string;
  redisUrl: string;
  /** The private Redis (null with REDIS_URL): what a test kills to restart it. */
  redis: PrivateRedis | null;
  instances: Instance[];
  nginx: Nginx;
  stop(): Promise<void>;
}

export async function startCluster(options: ClusterOptions): Promise<Cluster> {
  const stops: (() => Promise<void>)[] = [];
  let stopping = false;
  const stop = async () => {
    stopping = true;
    for (const step of stops.splice(0).reverse()) await step();
  };
  try {
    const presenterSecret = options.presenterSecret ?? randomBytes(18).toString('base64url');
    let redis: PrivateRedis | null = null;
    let redisUrl = options.redisUrl;
    if (!redisUrl) {
      redis = await startPrivateRedis();
      redisUrl = redis.url;
      // A Redis that dies comes back (empty) on the same port and password, so the instances' REDIS_URL stays right.
      const { port, password } = redis;
      const keep = (current: PrivateRedis) =>
        void current.exited.then(async () => {
          if (stopping) return;
          redis = await startPrivateRedis({ port, password });
          keep(redis);
        });
      keep(redis);
      stops.push(async () => void (await redis?.stop()));
    }
    const listenPort = options.port || (await freePort());
    const host = options.host ?? '127.0.0.1';
    const url = `http://${host === '0.0.0.0' ? '127.0.0.1' : host}:${listenPort}`;
    const ports: number[] = [];
    for (let i = 0; i < options.instances; i++) ports.push(await freePort());
    const env = {
      ...options.env,
      REDIS_URL: redisUrl,
      PRESENTER_SECRET: presenterSecret,
      HOST: '127.0.0.1',
      // Phones join at nginx's address, not an instance's; client addresses come from nginx.
      PUBLIC_URL: options.publicUrl ?? url,
      TRUST_PROXY: 'loopback',
    };
    const instances = ports.map((port, i) => startInstance(i + 1, port, env, options.onOutput));
    let nginx: Nginx | null = null;
    // nginx and the instances stop together, Redis after them.
    stops.push(() => Promise.all([nginx?.stop(), stopInstances(instances)]).then(() => {}));
    await Promise.all(instances.map((instance) => waitForInstance(instance)));
    nginx = await startNginx(host, listenPort, ports);
    return {
      url,
      presenterSecret,
      presenterSecretGenerated: options.presenterSecret === undefined,
      presenterLink: `${url}/presenter?token=${encodeURIComponent(presenterSecret)}`,
      redisUrl,
      get redis() {
        return redis;
      },
      instances,
      nginx,
      stop,
    };
  } catch (error) {
    await stop();
    throw error;
  }
}

function startInstance(n: number, port: number, env: Record<string, string>, onOutput: ClusterOptions['onOutput']): Instance {
  const child = spawn(process.execPath, ['--import', 'tsx', 'server/main.ts'], {
    cwd: ROOT,
    env: { ...process.env, ...env, PORT: String(port) },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  createInterface({ input: child.stdout! }).on('line', (line) => onOutput?.(n, line, 'stdout'));
  createInterface({ input: child.stderr! }).on('line', (line) => onOutput?.(n, line, 'stderr'));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const watchdog = dieWithParent(child.pid!);
  void exited.then(() => watchdog.kill());
  return { n, port, pid: child.pid!, url: `http://127.0.0.1:${port}`, process: child, exited };
}

async function waitForInstance(instance: Instance): Promise<void> {
  const gone = () => instance.process.exitCode !== null || instance.process.signalCode !== null;
  try {
    await waitForHttp(`${instance.url}/healthz`, gone, START_TIMEOUT_MS);
  } catch (error) {
    throw new Error(`instance ${instance.n} (port ${instance.port}) did not start: ${(error as Error).message}`);
  }
}

/** SIGTERM to all at once; whoever is not gone at the deadline is killed. */
async function stopInstances(instances: Instance[]): Promise<void> {
  const alive = instances.filter((instance) => instance.process.exitCode === null && instance.process.signalCode === null);
  for (const instance of alive) instance.process.kill('SIGTERM');
  const timer = setTimeout(() => {
    for (const instance of alive) instance.process.kill('SIGKILL');
  }, STOP_DEADLINE_MS);
  await Promise.all(alive.map((instance) => instance.exited));
  clearTimeout(timer);
}
