/**
 * Layer 3 of the talk, "Metrics & Monitoring": what the pools do, counted in
 * Prometheus' text format at GET /metrics. Counters follow the pools' events, so
 * every release is counted once wherever it ran (here or in a worker process).
 */
import { Counter, Gauge, Registry, collectDefaultMetrics } from 'prom-client';
import type { ExecutorPools } from './pool/executorPool.ts';

export interface Metrics {
  registry: Registry;
  destroy(): void;
}

export function createMetrics(pools: ExecutorPools, poolNames: () => Iterable<string>): Metrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: 'idem_process_' });

  const releases = new Counter({
    name: 'idem_releases_total',
    help: 'Executor releases, by pool, release kind (lua or naive) and outcome.',
    labelNames: ['pool', 'kind', 'status'] as const,
    registers: [registry],
  });
  const doubleReleases = new Counter({
    name: 'idem_double_releases_total',
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
  new Gauge({
    name: 'idem_pool_executors',
    help: 'Executors per pool and state, read from Redis at scrape time.',
    labelNames: ['pool', 'state'] as const,
    registers: [registry],
    async collect() {
      this.reset();
      for (const pool of poolNames()) {
        const snapshot = await pools.snapshot(pool);
        this.set({ pool, state: 'available' }, snapshot.available.length);
        this.set({ pool, state: 'busy' }, Object.keys(snapshot.busy).length);
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
