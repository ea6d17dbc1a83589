/**
 * `npm run record`: plays every panel's scenarios on the real system (a private
 * redis-server and BullMQ worker processes, as `npm start` runs them) and writes
 * each run as JSON into slides/recordings/, for the deck to replay where no
 * server answers. Every recording is checked against its schema, and its verdict
 * against its own events, before it is written.
 *
 * The panels' messages are taken off the wire: a socket.io client watches every
 * pool, as a viewer's page does, and keeps what the server pushed.
 */
import { mkdir, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { randomBytes } from 'node:crypto';
import { io as connect, type Socket } from 'socket.io-client';
import { createApp, type App } from '../app.ts';
import { loadConfig } from '../config.ts';
import { createLogger } from '../log.ts';
import { CeleryFaultName, type AnyFaultName, type ClientToServerEvents, type FaultName, type RunRecord, type RuntimeName, type ScenarioName, type ServerToClientEvents } from '../protocol.ts';
import { DEFAULT_POOL } from '../pool/poolActions.ts';
import { RunService } from '../scenarios/runService.ts';
import { recheckRun } from '../scenarios/runVerdict.ts';
import {
  RECORDING_FORMAT_VERSION,
  RecordingIndexSchema,
  RecordingSchema,
  runRecordingFile,
  type PoolClick,
  type PoolMessage,
  type Recording,
  type RecordingEntry,
  type RecordingIndex,
} from './format.ts';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
export const RECORDINGS_DIR = `${ROOT}slides/recordings`;

/** What each panel plays: Act 1 under each of its faults, the three attempts, the defense layers, the talk's test. */
export const PLAN: readonly { scenario: ScenarioName; fault?: FaultName }[] = [
  ...(['result-unstorable', 'worker-killed', 'lock-lost', 'worker-killed-fail', 'lock-lost-fail'] as const).map((fault) => ({ scenario: 'innocent-pattern' as const, fault })),
  ...(['worker-killed', 'result-unstorable'] as const).flatMap((fault) => (['attempt-1', 'attempt-2', 'attempt-3'] as const).map((scenario) => ({ scenario, fault }))),
  { scenario: 'ttl-safety-net' },
  { scenario: 'atomic-allocation' },
  { scenario: 'edge-case-test' },
  // Beyond the talk: with the talk's release (its default), the run that shows the late duplicate.
  { scenario: 'late-duplicate' },
];

/**
 * `npm run record -- --celery`: the rows of "Does Celery really do that?", Act 1 on real
 * Celery under each fault. Recorded on their own and added to the index, so the
 * BullMQ recordings stay as they are. `npm run record -- --celery link-v1 result-get`
 * records those rows alone.
 */
export const CELERY_PLAN: readonly CeleryFaultName[] = CeleryFaultName.options.filter((fault) => fault !== 'none' && fault !== 'task-fails');

/** How long one run may take before the recording gives up (the TTL run waits for an expiry). */
const RUN_DEADLINE_MS = 120_000;
/** A click's pace in the Lua session: slow enough to read, as a presenter clicks. */
const CLICK_GAP_MS = 1500;

type ClientSocket = Socket<ServerToClientEvents, ClientToServerEvents>;

function withDeadline<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: no answer within ${ms} ms`)), ms);
  });
  return Promise.race([promise, deadline]).finally(() => clearTimeout(timer));
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Every message each pool's room gets, as a page watching it would. */
class PoolTap {
  readonly messages: { pool: string; message: PoolMessage }[] = [];

  constructor(private readonly socket: ClientSocket) {
    // The server sends one message per change: the snapshot with the clicks and warnings that made it. Kept as it came.
    socket.on('pool:changed', (change) => this.messages.push({ pool: change.pool, message: { at: Date.now(), event: 'pool:changed', change } }));
  }

  async watch(pools: readonly string[]): Promise<void> {
    for (const pool of pools) {
      const answer = (await withDeadline(this.socket.emitWithAck('pool:watch', { pool }), 10_000, `pool:watch ${pool}`)) as { ok: boolean };
      if (!answer.ok) throw new Error(`cannot watch pool ${pool}: ${JSON.stringify(answer)}`);
    }
  }

  /** The messages of `pool` received from `from` on. */
  since(pool: string, from: number): PoolMessage[] {
    return this.messages.filter((entry) => entry.pool === pool && entry.message.at >= from).map((entry) => entry.message);
  }
}

async function versionsOf(app: App): Promise<RecordingIndex['versions']> {
  const info = await app.redis.info('server');
  const redis = /redis_version:(\S+)/.exec(info)?.[1] ?? 'unknown';
  const bullmq = (JSON.parse(await readFile(`${ROOT}node_modules/bullmq/package.json`, 'utf8')) as { version: string }).version;
  return { redis, bullmq, node: process.version };
}

async function recordRun(app: App, scenario: ScenarioName, fault: AnyFaultName | undefined, runtime: RuntimeName = 'bullmq'): Promise<RunRecord> {
  let id = '';
  const finished = new Promise<RunRecord>((resolve) => {
    const onFinished = (record: RunRecord) => {
      if (record.id !== id) return;
      app.runs.off('finished', onFinished);
      resolve(record);
    };
    app.runs.on('finished', onFinished);
  });
  id = (await app.runs.start(scenario, { ...(fault ? { fault } : {}), ...(runtime === 'celery' ? { runtime } : {}) })).id;
  const record = await withDeadline(finished, RUN_DEADLINE_MS, `run of ${scenario}`);
  if (record.status !== 'finished') throw new Error(`run of ${scenario} failed: ${record.error ?? 'no reason'}`);
  // The last change of the pool reaches the room a tick after the run ends.
  await sleep(300);
  return record;
}

/** The Lua slide's clicks: allocate, release once, allocate, double release; each reply as the server gave it. */
async function recordPoolSession(app: App, tap: PoolTap, stamp: Pick<Recording, 'formatVersion' | 'recordedAt' | 'versions'>): Promise<Recording> {
  const pool = DEFAULT_POOL;
  await app.actions.reset({ pool });
  await sleep(300);
  const before = await app.actions.pools.snapshot(pool);
  const startedAt = Date.now();
  const clicks: PoolClick[] = [];
  const evalId = () => `eval-${randomBytes(4).toString('hex')}`;

  const first = evalId();
  const allocation = await app.actions.allocate({ pool, evalId: first });
  clicks.push({ at: Date.now(), request: 'allocate', evalId: first, reply: allocation });
  await sleep(CLICK_GAP_MS);
  clicks.push({ at: Date.now(), request: 'release', executor: allocation.executor, reply: await app.actions.release({ pool, executor: allocation.executor }) });
  await sleep(CLICK_GAP_MS);
  const second = evalId();
  const again = await app.actions.allocate({ pool, evalId: second });
  clicks.push({ at: Date.now(), request: 'allocate', evalId: second, reply: again });
  await sleep(CLICK_GAP_MS);
  clicks.push({ at: Date.now(), request: 'double-release', executor: again.executor, reply: await app.actions.doubleRelease({ pool, executor: again.executor }) });
  await sleep(500);
  return { ...stamp, kind: 'pool-session', pool, before, startedAt, clicks, poolMessages: tap.since(pool, startedAt) };
}

/** The Celery runs, each written beside the others and added to the index (replacing an older one of the same file). */
async function recordCelery(app: App, tap: PoolTap, stamp: Pick<Recording, 'formatVersion' | 'recordedAt' | 'versions'>): Promise<void> {
  const index = RecordingIndexSchema.parse(JSON.parse(await readFile(`${RECORDINGS_DIR}/index.json`, 'utf8')));
  const entries = [...index.recordings];
  const named = process.argv.slice(process.argv.indexOf('--celery') + 1).filter((arg) => !arg.startsWith('-'));
  for (const name of named) if (!CELERY_PLAN.includes(name as CeleryFaultName)) throw new Error(`no Celery row records "${name}": ${CELERY_PLAN.join(', ')}`);
  for (const fault of named.length > 0 ? (named as CeleryFaultName[]) : CELERY_PLAN) {
    const started = Date.now();
    const run = await recordRun(app, 'innocent-pattern', fault, 'celery');
    const file = runRecordingFile(run.scenario, run.fault, 'celery');
    await writeFile(`${RECORDINGS_DIR}/${file}`, `${JSON.stringify(checked({ ...stamp, kind: 'run', run, poolMessages: tap.since(run.pool, started) }))}\n`);
    const entry: RecordingEntry = { kind: 'run', file, scenario: run.scenario, fault: run.fault, runtime: 'celery', recordedAt: stamp.recordedAt };
    const at = entries.findIndex((e) => e.file === file);
    if (at >= 0) entries[at] = entry;
    else entries.push(entry);
    process.stdout.write(`recorded ${file}: ${run.verdict?.kind ?? run.status}, ${run.events.length} events, ${Date.now() - started} ms\n`);
  }
  await writeFile(`${RECORDINGS_DIR}/index.json`, `${JSON.stringify(RecordingIndexSchema.parse({ ...index, recordings: entries }), null, 2)}\n`);
}

/** Schema and consistency: a recording whose verdict does not follow from its events is not written. */
function checked(recording: Recording): Recording {
  const parsed = RecordingSchema.parse(JSON.parse(JSON.stringify(recording)));
  if (parsed.kind === 'run') {
    const disagreements = recheckRun(parsed.run);
    if (disagreements.length > 0) throw new Error(`inconsistent recording of ${parsed.run.scenario}:\n${disagreements.join('\n')}`);
  }
  return parsed;
}

async function main(): Promise<void> {
  const log = createLogger({ level: 'warn' });
  const config = loadConfig(
    { ...process.env, PORT: '0', HOST: '127.0.0.1', PRESENTER_SECRET: process.env.PRESENTER_SECRET ?? randomBytes(12).toString('hex'), VIEWER_ACTION_BURST: '1000' },
    [],
  );
  if (config.taskWorkers < 2) throw new Error('recording needs the worker processes (TASK_WORKERS of 2 or more)');
  const app = await createApp(config, { log, distDir: null });
  const socket: ClientSocket = connect(app.url, { transports: ['websocket'], reconnection: false });
  try {
    await withDeadline(new Promise<void>((resolve) => socket.once('connect', () => resolve())), 10_000, 'socket.io connect');
    const tap = new PoolTap(socket);
    await tap.watch([DEFAULT_POOL, ...RunService.pools()]);
    const versions = await versionsOf(app);
    const recordedAt = new Date().toISOString();
    const stamp = { formatVersion: RECORDING_FORMAT_VERSION, recordedAt, versions } as const;

    const files = new Map<string, Recording>();
    const entries: RecordingEntry[] = [];
    if (process.argv.includes('--celery')) {
      await recordCelery(app, tap, stamp);
      return;
    }
    for (const { scenario, fault } of PLAN) {
      const started = Date.now();
      const run = await recordRun(app, scenario, fault);
      const file = runRecordingFile(scenario, run.fault);
      files.set(file, checked({ ...stamp, kind: 'run', run, poolMessages: tap.since(run.pool, started) }));
      entries.push({ kind: 'run', file, scenario, fault: run.fault, recordedAt });
      process.stdout.write(`recorded ${file}: ${run.verdict?.kind ?? run.status}, ${run.events.length} events, ${Date.now() - started} ms\n`);
    }
    const session = checked(await recordPoolSession(app, tap, stamp));
    const sessionFile = `pool-session.${DEFAULT_POOL}.json`;
    files.set(sessionFile, session);
    entries.push({ kind: 'pool-session', file: sessionFile, pool: DEFAULT_POOL, recordedAt });
    process.stdout.write(`recorded ${sessionFile}\n`);

    // Replace the old recordings whole: a file left from an earlier plan would be stale.
    await mkdir(RECORDINGS_DIR, { recursive: true });
    for (const name of await readdir(RECORDINGS_DIR)) if (name.endsWith('.json')) await rm(`${RECORDINGS_DIR}/${name}`);
    for (const [file, recording] of files) await writeFile(`${RECORDINGS_DIR}/${file}`, `${JSON.stringify(recording)}\n`);
    const index = RecordingIndexSchema.parse({ formatVersion: RECORDING_FORMAT_VERSION, recordedAt, versions, recordings: entries });
    await writeFile(`${RECORDINGS_DIR}/index.json`, `${JSON.stringify(index, null, 2)}\n`);
    process.stdout.write(`wrote ${files.size} recordings to slides/recordings/ (Redis ${versions.redis}, BullMQ ${versions.bullmq}, Node ${versions.node})\n`);
  } finally {
    socket.disconnect();
    await app.close();
  }
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    process.stderr.write(`\nrecording failed: ${error instanceof Error ? error.stack : String(error)}\n`);
    process.exit(1);
  },
);
