/**
 * The composition root: the one place that wires configuration, Redis, the pools,
 * the HTTP routes, the sockets and the deck together. Every part below gets what
 * it needs from here and knows nothing of the others.
 */
import { createServer as createHttpServer, type Server as HttpServer } from 'node:http';
import { existsSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import type { AddressInfo } from 'node:net';
import express from 'express';
import { Redis } from 'ioredis';
import { Server as SocketServer } from 'socket.io';
import type { Config } from './config.ts';
import { createLogger, withoutPasswords, type Logger } from './log.ts';
import { followPassword, keepPrivateRedis, type PrivateRedisKeeper } from './redis/privateRedisKeeper.ts';
import { watchRedisOutages } from './redis/redisOutage.ts';
import { loadScripts } from './redis/scripts.ts';
import { ExecutorPools } from './pool/executorPool.ts';
import { DEFAULT_POOL, PoolActions } from './pool/poolActions.ts';
import { apiRouter } from './http/routes.ts';
import { runRouter } from './http/runRoutes.ts';
import { hallRouter } from './http/hallRoutes.ts';
import { apiFallbacks, jsonBodies, viewerSessions } from './http/respond.ts';
import { staticDeck } from './http/staticDeck.ts';
import { createPoolChannel, type IoServer } from './sockets/poolChannel.ts';
import { createRunChannel } from './sockets/runChannel.ts';
import { createHallChannel } from './sockets/hallChannel.ts';
import { Hall } from './hall/hall.ts';
import { DeckStore } from './hall/deckStore.ts';
import { clusterSockets } from './sockets/cluster.ts';
import { createPoolRelay } from './sockets/poolRelay.ts';
import { Admission } from './sockets/admission.ts';
import { jsonOnly, securityHeaders } from './http/hardening.ts';
import { Sessions } from './session/sessions.ts';
import { sharedSessionKey } from './session/sessionKey.ts';
import { createMetrics } from './metrics.ts';
import { startReaper } from './pool/reaper.ts';
import { RunService } from './scenarios/runService.ts';
import { RunStore } from './scenarios/runStore.ts';
import { ALIVE_TTL_MS, watchRunOwners } from './scenarios/runOwners.ts';
import { startRestartableRuntime } from './tasks/restartableRuntime.ts';
import type { CeleryRunner, EvalRunner, ScenarioContext } from './scenarios/scenarios.ts';
import { createCeleryRuntime } from './tasks/celery/celeryRuntime.ts';
import { ChaosRounds } from './chaos/chaosRounds.ts';
import { chaosRouter } from './chaos/chaosRoutes.ts';
import { CHAOS_ROOM, createChaosChannel } from './chaos/chaosChannel.ts';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
export const DIST_DIR = `${ROOT}dist`;

export interface App {
  /** Where the site answers, e.g. http://127.0.0.1:3000 */
  url: string;
  redisUrl: string;
  httpServer: HttpServer;
  io: IoServer;
  redis: Redis;
  actions: PoolActions;
  runs: RunService;
  /** Sessions, the deck state the hall follows, and the gate every action passes. */
  hall: Hall;
  /** The chaos rounds: the hall's taps against three release variants. */
  chaos: ChaosRounds;
  log: Logger;
  close(): Promise<void>;
}

export interface AppOptions {
  log?: Logger;
  /** Serve the built deck from here (default `dist/`); null serves the API alone. */
  distDir?: string | null;
}

export async function createApp(config: Config, options: AppOptions = {}): Promise<App> {
  const log = options.log ?? createLogger({ level: config.logLevel });
  const cleanups: (() => Promise<void> | void)[] = [];
  const close = async () => {
    for (const cleanup of cleanups.reverse()) await cleanup();
  };

  try {
    let privateRedis: PrivateRedisKeeper | null = null;
    if (!config.redisUrl) {
      privateRedis = await keepPrivateRedis(log);
      cleanups.push(() => privateRedis!.stop());
      log.info('started a private redis-server', { url: withoutPasswords(privateRedis.url) });
    }
    // The private Redis' url changes when it is restarted (a new password).
    const currentRedisUrl = () => config.redisUrl ?? privateRedis!.url;
    const redisUrl = currentRedisUrl();
    // No request waits on Redis for long: a command unanswered in 2 s fails as redis_unavailable.
    const redis = new Redis(redisUrl, { maxRetriesPerRequest: 2, enableOfflineQueue: true, lazyConnect: true, commandTimeout: 2000 });
    redis.on('error', (error) => log.warn('redis connection error', { error: error.message }));
    if (privateRedis) followPassword(privateRedis, redis);
    cleanups.push(async () => void (await redis.quit().catch(() => redis.disconnect())));
    await redis.connect();

    const runScript = loadScripts(redis);
    const pools = new ExecutorPools(redis, runScript, {
      busyTtlSeconds: config.busyTtlSeconds,
      doubleReleaseWindowMs: config.doubleReleaseWindowMs,
      defaultSize: config.poolSize,
    }, log);
    const knownPools = new Set([DEFAULT_POOL, ...RunService.pools()]);
    for (const pool of knownPools) await pools.ensure(pool);
    const actions = new PoolActions(pools, knownPools);

    const metrics = createMetrics(pools, () => knownPools);
    cleanups.push(() => metrics.destroy());
    const newReaper = () => startReaper({ redis, pools, poolNames: () => knownPools, sweepIntervalMs: config.reaperSweepMs, log });
    let reaper = await newReaper();
    cleanups.push(() => reaper.stop());

    // Loaded only when used: forking workers is the slowest part of starting up.
    let stopRuntime = async () => {};
    let restartRuntime = async (_url: string) => {};
    const runtime: EvalRunner = config.taskWorkers > 0
      ? await startRestartableRuntime(async (url) => (await import('./tasks/evalRuntime.ts')).startEvalRuntime({
          redisUrl: url,
          workers: config.taskWorkers,
          lockDurationMs: config.lockDurationMs,
          stalledIntervalMs: config.stalledIntervalMs,
          log: log.child({ part: 'tasks' }),
        }), redisUrl).then((started) => {
          cleanups.push(() => started.close());
          stopRuntime = () => started.close();
          restartRuntime = (url) => started.restart(url);
          return started;
        })
      : {
          run: () => Promise.reject(new Error('the task runtime is off (TASK_WORKERS=0)')),
        };
    // Python and the celery workers start on the first run that asks for them.
    let restartCelery = async (_url: string) => {};
    const celery: CeleryRunner = config.celeryWorkers > 0
      ? (() => {
          const started = createCeleryRuntime({ redisUrl, workers: config.celeryWorkers, log: log.child({ part: 'celery' }) });
          cleanups.push(() => started.close());
          restartCelery = (url) => started.restart(url);
          return started;
        })()
      : { run: () => Promise.reject(new Error('the Celery runtime is off (CELERY_WORKERS=0)')) };
    const scenarioContext: ScenarioContext = {
      pools,
      runtime,
      celery,
      get redisUrl() {
        return currentRedisUrl();
      },
      stageTtlSeconds: config.stageTtlSeconds,
      waitForReclaim: (pool, executor, timeoutMs) => waitForReclaim(pools, pool, executor, timeoutMs),
      log,
    };
    // This process among the instances sharing the Redis: the owner of the runs it plays.
    const instance = randomBytes(6).toString('hex');
    const runStore = new RunStore(redis, { keepRuns: 200, instance }, log);
    cleanups.push(() => runStore.destroy());
    const runs = new RunService(scenarioContext, runStore, { maxQueued: 5 });
    const runOwners = await watchRunOwners({
      redis,
      instance,
      onOrphan: (runId, dead) => runs.failOrphan(runId, `its server instance (${dead}) stopped answering (no sign of life for ${ALIVE_TTL_MS / 1000} s): the run went down with it`),
      log,
    });
    cleanups.push(() => runOwners.stop());
    // Queued runs are cancelled, the one playing is cut short (its workers stopped), before Redis goes away.
    cleanups.push(() => runs.shutdown('the server is shutting down', stopRuntime, 1500));

    let viewerKey = await sharedSessionKey(redis);
    const hall = new Hall({
      presenterSecret: config.presenterSecret,
      viewerKey,
      trustProxy: config.trustProxy,
      publicUrl: config.publicUrl,
      viewerActionsPerSecond: config.viewerActionsPerSecond,
      viewerActionBurst: config.viewerActionBurst,
      panelActionsPerSecond: config.panelActionsPerSecond,
      panelActionBurst: config.panelActionBurst,
      presenterIdleMs: config.presenterIdleSeconds * 1000,
      log,
      redis,
      runScript,
    });
    cleanups.push(() => hall.destroy());
    const deckStore = new DeckStore(redis, runScript, log);
    await hall.deck.share(deckStore);
    cleanups.push(() => deckStore.close());
    const { gate } = hall;
    const poolNames = () => knownPools;
    let chaosIo: IoServer | null = null;
    const chaos = new ChaosRounds(redis, gate, (state) => chaosIo?.to(CHAOS_ROOM).emit('chaos:changed', state), log.child({ part: 'chaos' }));
    cleanups.push(() => chaos.destroy());

    const app = express();
    app.disable('x-powered-by');
    // X-Forwarded-For counts only from proxies the operator named (TRUST_PROXY).
    app.set('trust proxy', config.trustProxy);
    app.use(securityHeaders());
    app.use(viewerSessions(gate));
    app.use('/api', jsonOnly(config.allowedOrigins), jsonBodies());
    app.use(hallRouter({ hall, actions, poolNames, log }));
    app.use(runRouter({ runs, gate, deck: hall.deck, metrics: metrics.registry, metricsToken: config.metricsToken, log }));
    app.use(apiRouter({ redis, actions, gate, log }));
    app.use(chaosRouter({ rounds: chaos, gate, log }));
    app.use(apiFallbacks(log));

    const httpServer = createHttpServer(app);
    const cluster = await clusterSockets(redis, log);
    cleanups.push(() => cluster.close());
    const poolRelay = await createPoolRelay(redis, log);
    cleanups.push(() => poolRelay.close());
    // Every token another instance hands out raises this one's floor: a Redis that restarts empty hands out none twice.
    poolRelay.onChange((change) => {
      const allocated = change.actions.flatMap((action) => (action.kind === 'allocated' ? [action.allocation.token] : []));
      pools.noteTokens(change.pool, [...Object.values(change.busyToken ?? {}), ...allocated]);
    });
    const admission = new Admission({
      allowedOrigins: config.allowedOrigins,
      handshakesPerSecond: config.handshakesPerSecond,
      socketEventsPerSecond: config.socketEventsPerSecond,
      clientOf: (req) => {
        const viewer = gate.viewerOf(req);
        return { key: viewer.limitKey, presenter: gate.isPresenter(viewer), returning: viewer.returning };
      },
      log,
    });
    const io: IoServer = new SocketServer(httpServer, {
      maxHttpBufferSize: 16 * 1024,
      serveClient: false,
      allowRequest: admission.allowRequest,
      ...cluster.options,
    });
    cleanups.push(admission.limitEvents(io));
    chaosIo = io;
    // A socket belongs to the session of the page that opened it: the handshake's cookie
    // (one is issued in the handshake's answer when the client came without).
    io.engine.on('initial_headers', (headers: Record<string, string>, req: import('node:http').IncomingMessage) =>
      Sessions.applyCookie(gate.viewerOf(req), headers),
    );
    const poolChannel = createPoolChannel(io, actions, gate, poolRelay, log);
    const runChannel = createRunChannel(io, runs, gate, hall.deck, log);
    const hallChannel = createHallChannel(io, { hall, actions, poolNames, log });
    const chaosChannel = createChaosChannel(io, chaos, gate, log);
    // The moment a restarted private Redis is up, Celery takes its new url: a run that starts the workers
    // before the pools are rebuilt must not start them on the old password. Not awaited: Python takes
    // seconds, and Celery runs wait for it anyway.
    privateRedis?.onRestarted((next) =>
      void restartCelery(next.url).catch((error: unknown) => log.error('could not restart the celery runtime', { error: String(error) })),
    );
    const outages = watchRedisOutages({
      redis, pools, poolNames: () => knownPools, io, log,
      restoreState: () => hall.restore(),
      failRunInFlight: (reason) => runs.failRunInFlight(reason),
      reconnect: async () => {
        await reaper.stop();
        reaper = await newReaper();
        // Viewer cookies stay valid: the key they are signed with is written back (or the one found there taken).
        viewerKey = await sharedSessionKey(redis, viewerKey);
        hall.sessions.useViewerKey(viewerKey);
        // A restarted private Redis has a new password: BullMQ's connections must be made again (Celery's
        // workers and driver were told as soon as the new Redis was up, below).
        if (privateRedis) await restartRuntime(currentRedisUrl());
      },
    });
    cleanups.push(() => {
      chaosChannel.destroy();
      outages.destroy();
      poolChannel.destroy();
      runChannel.destroy();
      hallChannel.destroy();
    });
    cleanups.push(() => new Promise<void>((resolve) => io.close(() => resolve())));

    await serveDeck(app, httpServer, config, options.distDir === undefined ? DIST_DIR : options.distDir, cleanups);

    await new Promise<void>((resolve, reject) => {
      httpServer.once('error', reject);
      httpServer.listen(config.port, config.host, () => resolve());
    });
    const { port } = httpServer.address() as AddressInfo;
    const host = config.host.includes(':') ? `[${config.host}]` : config.host;
    hall.listening({ host: config.host, port });
    return { url: `http://${host}:${port}`, get redisUrl() { return currentRedisUrl(); }, httpServer, io, redis, actions, runs, hall, chaos, log, close };
  } catch (error) {
    await close();
    throw error;
  }
}

function waitForReclaim(pools: ExecutorPools, pool: string, executor: string, timeoutMs: number): Promise<'expiry' | 'sweep'> {
  return new Promise((resolve, reject) => {
    const onReclaimed = (reclaimedPool: string, executors: string[], via: 'expiry' | 'sweep') => {
      if (reclaimedPool !== pool || !executors.includes(executor)) return;
      clearTimeout(timer);
      pools.off('reclaimed', onReclaimed);
      resolve(via);
    };
    const timer = setTimeout(() => {
      pools.off('reclaimed', onReclaimed);
      reject(new Error(`${executor} was not reclaimed within ${timeoutMs} ms`));
    }, timeoutMs);
    pools.on('reclaimed', onReclaimed);
  });
}

/** The deck: Vite's dev server with hot reload in `--dev`, else the built files. */
async function serveDeck(
  app: express.Express,
  httpServer: HttpServer,
  config: Config,
  distDir: string | null,
  cleanups: (() => Promise<void> | void)[],
): Promise<void> {
  if (config.dev) {
    const { createServer } = await import('vite');
    const vite = await createServer({
      configFile: `${ROOT}vite.config.ts`,
      server: { middlewareMode: true, hmr: { server: httpServer } },
      appType: 'spa',
    });
    cleanups.push(() => vite.close());
    app.use(vite.middlewares);
    return;
  }
  if (distDir === null) return;
  if (!existsSync(`${distDir}/index.html`)) {
    throw new Error(`The deck is not built (${distDir}/index.html is missing): run \`npm run build\`, or \`npm start\` which builds it.`);
  }
  app.use(staticDeck(distDir));
}
