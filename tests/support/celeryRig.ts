/**
 * Real Celery for a test file: a private redis-server, the executor pools on it,
 * the server's Celery runtime (supervised `celery worker` processes and the
 * driver), and a connection to Celery's database, where each callback counts
 * itself before it releases.
 */
import { Redis } from 'ioredis';
import { createCapturingLogger } from '../../server/log.ts';
import { ExecutorPools } from '../../server/pool/executorPool.ts';
import { startPrivateRedis, type PrivateRedis } from '../../server/redis/privateRedis.ts';
import { loadScripts } from '../../server/redis/scripts.ts';
import { celeryBrokerUrl } from '../../server/tasks/celery/python.ts';
import { createCeleryRuntime, type CeleryRuntime } from '../../server/tasks/celery/celeryRuntime.ts';

export interface CeleryRig {
  redisServer: PrivateRedis;
  redis: Redis;
  /** Celery's database: `idem-celery:calls:<task id>` holds each eval's callbacks, counted. */
  celeryDb: Redis;
  pools: ExecutorPools;
  celery: CeleryRuntime;
  /** Stops it all; resolves with the pids the workers had, so a test can check they are gone. */
  close(): Promise<number[]>;
}

export async function startCeleryRig(): Promise<CeleryRig> {
  const { logger } = createCapturingLogger('warn');
  const redisServer = await startPrivateRedis();
  const redis = new Redis(redisServer.url, { maxRetriesPerRequest: 2 });
  const celeryDb = new Redis(celeryBrokerUrl(redisServer.url), { maxRetriesPerRequest: 2 });
  const pools = new ExecutorPools(redis, loadScripts(redis), { busyTtlSeconds: 600, doubleReleaseWindowMs: 1000, defaultSize: 3 }, logger);
  const celery = createCeleryRuntime({ redisUrl: redisServer.url, log: logger, runTimeoutMs: 30_000 });
  return {
    redisServer,
    redis,
    celeryDb,
    pools,
    celery,
    async close() {
      const pids = celery.workers().map((w) => w.pid).filter((pid): pid is number => pid !== null);
      await celery.close();
      await redis.quit().catch(() => redis.disconnect());
      await celeryDb.quit().catch(() => celeryDb.disconnect());
      await redisServer.stop();
      return pids;
    },
  };
}
