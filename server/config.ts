/**
 * Configuration from the environment, parsed once by a schema so a typo fails at
 * start with a message instead of at the first request.
 */
import { randomBytes } from 'node:crypto';
import { z } from 'zod';

const Env = z.object({
  PORT: z.coerce.number().int().min(0).max(65535).default(3000),
  HOST: z.string().min(1).default('127.0.0.1'),
  REDIS_URL: z.string().url().optional(),
  POOL_SIZE: z.coerce.number().int().min(1).max(64).default(4),
  BUSY_TTL_SECONDS: z.coerce.number().int().min(1).max(86_400).default(600),
  DOUBLE_RELEASE_WINDOW_MS: z.coerce.number().int().min(1).max(60_000).default(1000),
  /**
   * At least 16 characters: whoever holds a presenter cookie can test guesses of it offline (each one costs an
   * scrypt); unset, one of 16 random characters is generated at start.
   */
  PRESENTER_SECRET: z.string().min(16, 'at least 16 characters (unset, one is generated at start)').optional(),
  /** Actions one viewer may fire per second (sustained), and in one burst. */
  VIEWER_ACTIONS_PER_SECOND: z.coerce.number().min(0.1).max(1000).default(5),
  VIEWER_ACTION_BURST: z.coerce.number().int().min(1).max(1000).default(10),
  /** Actions the whole audience may fire on one panel per second, and in one burst: the stage view stays readable. */
  PANEL_ACTIONS_PER_SECOND: z.coerce.number().min(0.1).max(10_000).default(20),
  PANEL_ACTION_BURST: z.coerce.number().int().min(1).max(10_000).default(40),
  /** The address phones join at (behind a proxy or a name); unset: the address the server listens on. */
  PUBLIC_URL: z.string().url().refine((url) => /^https?:\/\//.test(url), 'PUBLIC_URL: http(s)://…').optional(),
  /** Worker processes for eval tasks; 0 runs no task runtime (the scenario runs that need it then fail clearly). */
  TASK_WORKERS: z.coerce.number().int().min(0).max(8).default(2),
  /** Real `celery worker` processes, started on the first run that asks for Celery; 0: Celery runs fail clearly. */
  CELERY_WORKERS: z.coerce.number().int().min(0).max(8).default(2),
  /** BullMQ lock duration and stall-check interval, short for the stage (BullMQ's defaults take ~60 s to notice a stall). */
  LOCK_DURATION_MS: z.coerce.number().int().min(200).max(600_000).default(1000),
  STALLED_INTERVAL_MS: z.coerce.number().int().min(100).max(600_000).default(500),
  /** Busy-marker TTL in the TTL safety-net demo, short so the audience sees it run out. */
  STAGE_TTL_SECONDS: z.coerce.number().int().min(1).max(600).default(5),
  /** How often the reaper sweeps every pool for executors whose busy marker expired unnoticed. */
  REAPER_SWEEP_MS: z.coerce.number().int().min(100).max(3_600_000).default(2000),
  LOG_LEVEL: z.enum(['debug', 'info', 'warn', 'error']).default('info'),
  /** Express' `trust proxy`: unset trusts no proxy (X-Forwarded-For is ignored); e.g. `1`, `loopback`, `10.0.0.0/8`. */
  TRUST_PROXY: z.string().optional(),
  /** Origins whose pages may open a socket, comma-separated, besides the site's own (the Host it was reached at). */
  ALLOWED_ORIGINS: z.string().optional(),
  /**
   * Seconds without a presenter (no presenter window connected, no presenter action) after which
   * no talk is live: every demo is then open to everyone, within the limits, until a presenter is back.
   */
  PRESENTER_IDLE_SECONDS: z.coerce.number().min(1).max(86_400).default(600),
  /** A token for Prometheus: `Authorization: Bearer <METRICS_TOKEN>` reads GET /metrics (the presenter's credential does too). */
  METRICS_TOKEN: z.string().min(16, 'at least 16 characters').optional(),
  /** Socket handshakes the server accepts per second from clients without a session, together (a burst of twice as many). */
  HANDSHAKES_PER_SECOND: z.coerce.number().int().min(1).max(100_000).default(200),
  /** Events one socket may send per second before they are refused unread; ten times over, it is disconnected. */
  SOCKET_EVENTS_PER_SECOND: z.coerce.number().min(1).max(10_000).default(20),
});

export interface Config {
  port: number;
  host: string;
  /** Unset: the server starts a private redis-server of its own. */
  redisUrl: string | undefined;
  poolSize: number;
  busyTtlSeconds: number;
  doubleReleaseWindowMs: number;
  /** Proves the presenter (the presenter link, `Authorization: Bearer`). Generated at start when not given. */
  presenterSecret: string;
  presenterSecretGenerated: boolean;
  viewerActionsPerSecond: number;
  viewerActionBurst: number;
  panelActionsPerSecond: number;
  panelActionBurst: number;
  /** Without a presenter for this long, no talk is live and the demos are open to all. */
  presenterIdleSeconds: number;
  publicUrl: string | undefined;
  taskWorkers: number;
  celeryWorkers: number;
  lockDurationMs: number;
  stalledIntervalMs: number;
  stageTtlSeconds: number;
  reaperSweepMs: number;
  logLevel: 'debug' | 'info' | 'warn' | 'error';
  /** Express' `trust proxy` setting: false unless TRUST_PROXY is set. */
  trustProxy: boolean | number | string;
  /** Extra origins allowed to open sockets (the site's own always are). */
  allowedOrigins: string[];
  handshakesPerSecond: number;
  socketEventsPerSecond: number;
  /** Reads GET /metrics besides the presenter's credential; unset: only the presenter's. */
  metricsToken: string | undefined;
  /** Serve the deck through Vite's dev server (hot reload) instead of the built `dist/`. */
  dev: boolean;
}

export class ConfigError extends Error {
  override name = 'ConfigError';
}

export function loadConfig(env: NodeJS.ProcessEnv = process.env, argv: string[] = process.argv.slice(2)): Config {
  // `PORT=` (set but empty) means unset, not 0.
  const given = Object.fromEntries(Object.entries(env).filter(([, value]) => value !== ''));
  const parsed = Env.safeParse(given);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((issue) => `${issue.path.join('.')}: ${issue.message}`).join('; ');
    throw new ConfigError(`Bad configuration: ${problems}`);
  }
  const e = parsed.data;
  return {
    port: e.PORT,
    host: e.HOST,
    redisUrl: e.REDIS_URL,
    poolSize: e.POOL_SIZE,
    busyTtlSeconds: e.BUSY_TTL_SECONDS,
    doubleReleaseWindowMs: e.DOUBLE_RELEASE_WINDOW_MS,
    presenterSecret: e.PRESENTER_SECRET ?? randomBytes(12).toString('base64url'),
    presenterSecretGenerated: e.PRESENTER_SECRET === undefined,
    viewerActionsPerSecond: e.VIEWER_ACTIONS_PER_SECOND,
    viewerActionBurst: e.VIEWER_ACTION_BURST,
    panelActionsPerSecond: e.PANEL_ACTIONS_PER_SECOND,
    panelActionBurst: e.PANEL_ACTION_BURST,
    presenterIdleSeconds: e.PRESENTER_IDLE_SECONDS,
    publicUrl: e.PUBLIC_URL,
    taskWorkers: e.TASK_WORKERS,
    celeryWorkers: e.CELERY_WORKERS,
    lockDurationMs: e.LOCK_DURATION_MS,
    stalledIntervalMs: e.STALLED_INTERVAL_MS,
    stageTtlSeconds: e.STAGE_TTL_SECONDS,
    reaperSweepMs: e.REAPER_SWEEP_MS,
    logLevel: e.LOG_LEVEL,
    trustProxy: parseTrustProxy(e.TRUST_PROXY),
    allowedOrigins: (e.ALLOWED_ORIGINS ?? '').split(',').map((origin) => origin.trim()).filter(Boolean),
    handshakesPerSecond: e.HANDSHAKES_PER_SECOND,
    socketEventsPerSecond: e.SOCKET_EVENTS_PER_SECOND,
    metricsToken: e.METRICS_TOKEN,
    dev: argv.includes('--dev'),
  };
}

/** `true`/`false`, a hop count, or what Express takes as addresses/subnets (`loopback`, `10.0.0.0/8, 127.0.0.1`). */
function parseTrustProxy(value: string | undefined): boolean | number | string {
  if (value === undefined || value === 'false') return false;
  if (value === 'true') return true;
  return /^\d+$/.test(value) ? Number(value) : value;
}
