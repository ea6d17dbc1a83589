/**
 * `npm run cluster -- [--instances N] [--port P]`: the site as several instances behind
 * nginx on this machine (scripts/cluster/cluster.ts), until Ctrl-C or SIGTERM.
 * Redis: REDIS_URL, or a private one. PRESENTER_SECRET: the environment's, or one
 * generated for the cluster. HOST and PUBLIC_URL are nginx's, as they are `npm start`'s. The instances' warnings and errors are passed through,
 * each line marked with its instance.
 */
import { parseArgs } from 'node:util';
import { ensureDeckBuilt } from '../tools/builtDeck.ts';
import { startCluster, type Cluster } from './cluster/cluster.ts';

const MIN_SECRET_LENGTH = 16;

function usage(problem: string): never {
  process.stderr.write(`\n${problem}\nUsage: npm run cluster -- [--instances N] [--port P]   (N: 1 to 16, default 3; P: nginx's port, default $PORT or 3000)\n\n`);
  process.exit(2);
}

function readOptions(): { instances: number; port: number } {
  let values: { instances?: string; port?: string };
  try {
    ({ values } = parseArgs({ options: { instances: { type: 'string' }, port: { type: 'string' } }, strict: true, allowPositionals: false }));
  } catch (error) {
    usage((error as Error).message);
  }
  const instances = Number(values.instances ?? 3);
  const port = Number(values.port ?? process.env.PORT ?? 3000);
  if (!Number.isInteger(instances) || instances < 1 || instances > 16) usage(`--instances: a whole number from 1 to 16, not "${values.instances}"`);
  if (!Number.isInteger(port) || port < 1 || port > 65535) usage(`--port: a port number, not "${values.port ?? process.env.PORT}"`);
  return { instances, port };
}

const { instances, port } = readOptions();
const givenSecret = process.env.PRESENTER_SECRET || undefined;
if (givenSecret !== undefined && givenSecret.length < MIN_SECRET_LENGTH) {
  usage(`PRESENTER_SECRET is too short: at least ${MIN_SECRET_LENGTH} characters (or leave it unset for a generated one).`);
}

let cluster: Cluster | null = null;
let stopping = false;
const shutdown = (signal: string) => {
  // Ctrl-C reaches every process of the terminal's group at once: the instances stop by themselves too.
  if (stopping) return;
  stopping = true;
  const started = Date.now();
  process.stderr.write(`cluster: ${signal}, stopping\n`);
  void (cluster?.stop() ?? Promise.resolve()).then(
    () => {
      process.stderr.write(`cluster: stopped in ${Date.now() - started} ms\n`);
      process.exit(0);
    },
    (error: unknown) => {
      process.stderr.write(`cluster: stop failed: ${String(error)}\n`);
      process.exit(1);
    },
  );
};
process.on('SIGINT', () => shutdown('SIGINT'));
process.on('SIGTERM', () => shutdown('SIGTERM'));

try {
  // Every instance serves dist/: built once here (again only when the deck's sources are newer).
  await ensureDeckBuilt('site');
  cluster = await startCluster({
    instances,
    port,
    host: process.env.HOST || undefined,
    publicUrl: process.env.PUBLIC_URL || undefined,
    redisUrl: process.env.REDIS_URL || undefined,
    presenterSecret: givenSecret,
    env: { LOG_LEVEL: process.env.LOG_LEVEL || 'warn' },
    // Log lines and errors; not an instance's own banner and presenter link (the cluster prints its own).
    onOutput: (n, line, stream) => {
      if (stream === 'stderr' || line.startsWith('{')) process.stderr.write(`instance ${n} | ${line}\n`);
    },
  });
} catch (error) {
  process.stderr.write(`\nThe cluster could not start: ${error instanceof Error ? error.message : String(error)}\n\n`);
  process.exit(1);
}
if (stopping) {
  // A signal came while it started: stop() ran on nothing; stop what started.
  await cluster.stop();
  process.exit(0);
}
process.stdout.write(`cluster: ${cluster.url}/\n`);
for (const instance of cluster.instances) process.stdout.write(`instance ${instance.n}: pid ${instance.pid}, port ${instance.port}\n`);
process.stdout.write(
  `\nPresenter link (keep it to yourself${cluster.presenterSecretGenerated ? '; new each start, set PRESENTER_SECRET to keep one' : ''}):\n  ${cluster.presenterLink}\n\n`,
);
