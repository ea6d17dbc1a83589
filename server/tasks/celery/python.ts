/**
 * How the server starts Python: Debian's interpreter (python3-celery and
 * python3-redis come from Debian, not pip) with our package on its path, and the
 * settings every Celery process of ours reads (python/idem_celery/settings.py).
 */
import { fileURLToPath } from 'node:url';
import { LUA_DIR } from '../../redis/scripts.ts';

export const PYTHON_DIR = fileURLToPath(new URL('../../../python/', import.meta.url));

/** Debian's python3 by default: a pyenv or venv python3 on PATH usually lacks Debian's celery. */
export function pythonExecutable(env: NodeJS.ProcessEnv = process.env): string {
  return env.CELERY_PYTHON || '/usr/bin/python3';
}

/** Celery's broker and backend: the pools' Redis, another database, so Celery's keys never mix with the pools'. */
export function celeryBrokerUrl(redisUrl: string): string {
  const url = new URL(redisUrl);
  const poolDb = Number(url.pathname.replace(/^\//, '') || '0');
  url.pathname = `/${poolDb === 2 ? 3 : 2}`;
  return url.toString();
}

export interface PythonSettings {
  redisUrl: string;
  /** The result backend of the result-too-large fault: a redis-server with `--proto-max-bulk-len 1mb` (null: that fault is refused). */
  limitedBackendUrl: string | null;
  visibilityTimeoutSeconds: number;
  deduplicate: boolean;
  lane: string;
}

export function pythonEnv(settings: PythonSettings): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    PYTHONPATH: PYTHON_DIR,
    PYTHONUNBUFFERED: '1',
    IDEM_POOL_REDIS_URL: settings.redisUrl,
    IDEM_CELERY_BROKER_URL: celeryBrokerUrl(settings.redisUrl),
    IDEM_CELERY_VISIBILITY_TIMEOUT: String(settings.visibilityTimeoutSeconds),
    IDEM_CELERY_DEDUPLICATE: settings.deduplicate ? '1' : '0',
    IDEM_CELERY_LANE: settings.lane,
    IDEM_LUA_DIR: LUA_DIR,
    IDEM_CELERY_LIMITED_BACKEND_URL: settings.limitedBackendUrl ?? '',
    IDEM_PARENT_PID: String(process.pid),
  };
  // Celery refuses to run as root with pickle accepted (the result-unstorable fault sends its link as
  // pickle). The broker is this server's own Redis database; in a container we run as root.
  if (process.getuid?.() === 0) env.C_FORCE_ROOT = '1';
  return env;
}
