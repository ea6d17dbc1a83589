/**
 * The site as `npm run cluster` runs it, for the audience benchmark's cluster mode:
 * N instances of server/main.ts (each its own process) behind Debian's nginx with
 * deploy/nginx.conf, one private Redis. Its usage is read from outside: CPU of the
 * instances, of nginx (master and workers) and of Redis over the measured window,
 * from /proc and INFO. The instances count no broadcasts of their own: the
 * conductor checks that every viewer got the same number of messages instead.
 *
 *   argv: <instances>
 */
import { readdirSync, readFileSync } from 'node:fs';
import { Redis } from 'ioredis';
import { startCluster } from '../../scripts/cluster/cluster.ts';
import { onConductor, send } from './ipc.ts';

const instances = Number(process.argv[2] ?? 1);
const TICKS_PER_SECOND = 100; // USER_HZ on Linux

const cluster = await startCluster({
  instances,
  presenterSecret: process.env.BENCH_PRESENTER_SECRET ?? 'bench-presenter-secret',
  // The same settings as the single server of this benchmark (ourServer.ts).
  env: {
    TASK_WORKERS: '0',
    CELERY_WORKERS: '0',
    VIEWER_ACTIONS_PER_SECOND: '1000',
    VIEWER_ACTION_BURST: '1000',
    PANEL_ACTIONS_PER_SECOND: '1000',
    PANEL_ACTION_BURST: '1000',
    HANDSHAKES_PER_SECOND: '100000',
    SOCKET_EVENTS_PER_SECOND: '10000',
    DOUBLE_RELEASE_WINDOW_MS: '100',
    LOG_LEVEL: 'error',
  },
  onOutput: (n, line) => process.stderr.write(`instance ${n} | ${line}\n`),
});
const redis = new Redis(cluster.redisUrl, { lazyConnect: true });
await redis.connect();

/** user + system CPU ms of a process, from /proc/<pid>/stat. */
function cpuMsOf(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return ((Number(fields[11]) + Number(fields[12])) / TICKS_PER_SECOND) * 1000;
  } catch {
    return 0;
  }
}

function rssMbOf(pid: number): number {
  try {
    const kb = /VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1];
    return Number(kb ?? 0) / 1024;
  } catch {
    return 0;
  }
}

/** nginx's master and its workers. */
function nginxPids(): number[] {
  const workers = readdirSync('/proc').filter((entry) => /^\d+$/.test(entry)).map(Number).filter((pid) => {
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]) === cluster.nginx.pid;
    } catch {
      return false;
    }
  });
  return [cluster.nginx.pid, ...workers];
}

async function redisCpuMs(): Promise<number> {
  const info = await redis.info('cpu');
  const field = (name: string) => Number(new RegExp(`${name}:([\\d.]+)`).exec(info)?.[1] ?? 0);
  return (field('used_cpu_user') + field('used_cpu_sys')) * 1000;
}

/** Every command Redis ran so far, the commands scripts call included. */
async function redisCalls(): Promise<number> {
  const stats = await redis.info('commandstats');
  return [...stats.matchAll(/calls=(\d+)/g)].reduce((sum, match) => sum + Number(match[1]), 0);
}

const instancesCpu = () => cluster.instances.reduce((sum, instance) => sum + cpuMsOf(instance.pid), 0);
const nginxCpu = () => nginxPids().reduce((sum, pid) => sum + cpuMsOf(pid), 0);
let atStart = { instances: 0, nginx: 0, redis: 0, calls: 0, at: 0 };
let rssMax = 0;
const sampler = setInterval(() => (rssMax = Math.max(rssMax, cluster.instances.reduce((sum, instance) => sum + rssMbOf(instance.pid), 0))), 200);

onConductor(async (message) => {
  if (message.type === 'measure') {
    atStart = { instances: instancesCpu(), nginx: nginxCpu(), redis: await redisCpuMs(), calls: await redisCalls(), at: Date.now() };
    rssMax = 0;
  } else if (message.type === 'report') {
    send({
      type: 'usage',
      usage: {
        broadcasts: {},
        cpuMs: instancesCpu() - atStart.instances,
        redisCpuMs: (await redisCpuMs()) - atStart.redis,
        nginxCpuMs: nginxCpu() - atStart.nginx,
        redisCalls: (await redisCalls()) - atStart.calls,
        rssMaxMb: rssMax,
        heapUsedMb: Number.NaN,
        windowMs: Date.now() - atStart.at,
        loopLagP99Ms: Number.NaN,
      },
    });
  }
});
const stop = () => {
  clearInterval(sampler);
  redis.disconnect();
  void cluster.stop().finally(() => process.exit(0));
};
process.on('SIGTERM', stop);
process.on('disconnect', stop);
send({ type: 'ready', url: cluster.url });
