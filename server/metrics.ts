/**
 * Layer 3 of the talk, "Metrics & Monitoring": what the pools do, counted in
 * Prometheus' text format at GET /metrics. Counters follow the pools' events, so
 * every release is counted once wherever it ran (here or in a worker process).
 * The process' own metrics have the names dashboards expect (`process_cpu_seconds_total`,
 * `nodejs_eventloop_lag_seconds`); the site's are `idem_…`. A scrape is cheap: the pool
 * gauges are read from Redis at most once per few seconds, however often it is asked.
 */
import { Counter, Gauge, Registry, collectDefaultMetrics } from 'prom-client';
import type { ExecutorPools } from './pool/executorPool.ts';

export interface Metrics {
  registry: Registry;
  destroy(): void;
}

/** The counter of "Double release detected" warnings: public on its own, beside the full scrape. */
export const DOUBLE_RELEASES_METRIC = 'idem_double_releases_total';

/** How long the pools' sizes read for one scrape serve the next ones. */
const POOL_READ_MS = 5000;

export function createMetrics(pools: ExecutorPools, poolNames: () => Iterable<string>, now: () => number = Date.now): Metrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });

  const releases = new Counter({
    name: 'idem_releases_total',
    help: 'Executor releases, by pool, release kind (lua or naive) and outcome.',
    labelNames: ['pool', 'kind', 'status'] as const,
    registers: [registry],
  });
  const doubleReleases = new Counter({
    name: DOUBLE_RELEASES_METRIC,
    help: 'Two releases of one executor closer together than the double-release window ("Double release detected").',
    labelNames: ['pool'] as const,
    registers: [registry],
  });
  const reclaimed = new Counter({
    name: 'idem_executors_reclaimed_total',
    help: 'Executors put back after their busy marker expired, by trigger (expiry notification or sweep).',
    labelNames: ['pool', 'via'] as const,
    registers: [registry],
  });
  // One read of every pool at a time, kept POOL_READ_MS: scrapes in between (or at once) share it.
  let poolRead: { at: number; sizes: Promise<{ pool: string; available: number; busy: number }[]> } | null = null;
  const readPools = () => {
    if (!poolRead || now() - poolRead.at >= POOL_READ_MS) {
      const sizes = Promise.all([...poolNames()].map(async (pool) => {
        const snapshot = await pools.snapshot(pool);
        return { pool, available: snapshot.available.length, busy: Object.keys(snapshot.busy).length };
      }));
      poolRead = { at: now(), sizes };
      // A failed read is not kept: the next scrape tries again.
      sizes.catch(() => (poolRead = null));
    }
    return poolRead.sizes;
  };
  new Gauge({
    name: 'idem_pool_executors',
    help: `Executors per pool and state, read from Redis at most once per ${POOL_READ_MS / 1000} s.`,
    labelNames: ['pool', 'state'] as const,
    registers: [registry],
    async collect() {
      const sizes = await readPools();
      this.reset();
      for (const { pool, available, busy } of sizes) {
        this.set({ pool, state: 'available' }, available);
        this.set({ pool, state: 'busy' }, busy);
      }
    },
  });

  const onReleased: Parameters<typeof pools.on<'released'>>[1] = (pool, reply, kind) => releases.inc({ pool, kind, status: reply.status });
  const onDouble: Parameters<typeof pools.on<'double-release'>>[1] = (warning) => doubleReleases.inc({ pool: warning.pool });
  const onReclaimed: Parameters<typeof pools.on<'reclaimed'>>[1] = (pool, executors, via) => reclaimed.inc({ pool, via }, executors.length);
  pools.on('released', onReleased);
  pools.on('double-release', onDouble);
  pools.on('reclaimed', onReclaimed);

  return {
    registry,
    destroy() {
      pools.off('released', onReleased);
      pools.off('double-release', onDouble);
      pools.off('reclaimed', onReclaimed);
    },
  };
}
