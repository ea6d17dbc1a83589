/**
 * `npm run bench:cluster-redis -- [--instances 2] [--moves 100]`: what Redis does per slide
 * move and per pool change with N instances behind nginx (scripts/cluster/cluster.ts),
 * counted by Redis itself (INFO commandstats: every command, the ones scripts call
 * included; PUBLISH deliveries are not commands), less what it does idle in the same time
 * (heartbeats, sweeps, the socket.io adapter's stream reads), measured just before.
 * The presenter acts through nginx, one action at a time, as a talk does.
 */
import { parseArgs } from 'node:util';
import { Redis } from 'ioredis';
import { io } from 'socket.io-client';
import { startCluster } from '../../scripts/cluster/cluster.ts';

const { values } = parseArgs({ options: { instances: { type: 'string', default: '2' }, moves: { type: 'string', default: '100' } }, strict: true });
const instances = Number(values.instances);
const moves = Number(values.moves);
const SECRET = 'bench-cluster-redis-presenter-secret';

const cluster = await startCluster({ instances, presenterSecret: SECRET, env: { TASK_WORKERS: '0', CELERY_WORKERS: '0', LOG_LEVEL: 'error', REAPER_SWEEP_MS: '3600000', SOCKET_EVENTS_PER_SECOND: '10000' } });
const redis = new Redis(cluster.redisUrl);
const socket = io(cluster.url, { transports: ['websocket'], extraHeaders: { authorization: `Bearer ${SECRET}` } });
await new Promise<void>((resolve) => socket.once('connect', () => resolve()));
const ask = async (event: string, payload: unknown) => {
  const ack = (await socket.timeout(10_000).emitWithAck(event, payload)) as { ok: boolean; data?: { executor?: string } };
  if (!ack.ok) throw new Error(`${event}: ${JSON.stringify(ack)}`);
  return ack.data;
};
const calls = async () => {
  const stats = await redis.info('commandstats');
  const by: Record<string, number> = {};
  for (const [, name, n] of stats.matchAll(/^cmdstat_([^:]+):calls=(\d+)/gm)) if (name !== 'info') by[name!] = Number(n);
  return by;
};
const diff = (after: Record<string, number>, before: Record<string, number>) =>
  Object.fromEntries(Object.entries(after).map(([name, n]) => [name, n - (before[name] ?? 0)]).filter(([, n]) => n !== 0));
const total = (by: Record<string, number>) => Object.values(by).reduce((a, b) => a + b, 0);

/** Commands during `action`, and during as long a wait idle just before, per unit. */
async function measure(units: number, action: () => Promise<void>): Promise<{ perUnit: number; idlePerUnit: number; by: Record<string, number>; ms: number }> {
  await ask('hall:join', {});
  await new Promise((resolve) => setTimeout(resolve, 1000));
  const started = Date.now();
  const before = await calls();
  await action();
  await new Promise((resolve) => setTimeout(resolve, 300)); // the last change's fan-out and relay
  const during = diff(await calls(), before);
  const ms = Date.now() - started;
  const idleBefore = await calls();
  await new Promise((resolve) => setTimeout(resolve, ms));
  const idle = diff(await calls(), idleBefore);
  return { perUnit: total(during) / units, idlePerUnit: total(idle) / units, by: during, ms };
}

await ask('pool:reset', { pool: 'main', size: 8 });
const slide = await measure(moves, async () => {
  for (let i = 0; i < moves; i++) await ask('deck:move', { h: i % 20, v: 0, f: -1 });
});
const pool = await measure(moves, async () => {
  for (let i = 0; i < moves; i += 2) {
    const allocation = await ask('pool:allocate', { evalId: `redis-ops-${i}`, pool: 'main' });
    await ask('pool:release', { executor: allocation!.executor, pool: 'main' });
  }
});
const channels = Number(/pubsub_channels:(\d+)/.exec(await redis.info('stats'))?.[1] ?? Number.NaN);
console.log(`${instances} instances behind nginx, ${moves} of each, one at a time, through nginx; Redis counts; idle subtracted\n`);
console.log('| per | Redis commands | idle in the same time | commands by name (during, not less idle) |');
console.log('|---|---|---|---|');
for (const [name, m] of [['slide move', slide], ['pool change (allocate or release)', pool]] as const) {
  console.log(`| ${name} | ${(m.perUnit - m.idlePerUnit).toFixed(1)} | ${m.idlePerUnit.toFixed(1)} | ${Object.entries(m.by).sort((a, b) => b[1] - a[1]).map(([c, n]) => `${c} ${(n / moves).toFixed(1)}`).join(', ')} |`);
}
console.log(`\npub/sub channels: ${channels}; each PUBLISH (deck-changed, pools:changed) is delivered to every instance's subscriber.`);
socket.disconnect();
redis.disconnect();
await cluster.stop();
process.exit(0);
