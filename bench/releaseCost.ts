/**
 * What a release costs Redis, and how many per second it takes: the talk's
 * list-scanning script, the fenced O(1) script, and a floor script (DEL + LPUSH
 * + RPOP in one EVALSHA), at pool sizes 10, 1,000 and 10,000, each one call per
 * round trip and pipelined. All on a private redis-server, in one run, the three
 * scripts taking turns batch by batch so they meet the same machine noise; figures
 * are medians over the rounds, ratios are taken within a round and then the median.
 *
 *   npm run bench                      # 5 rounds, writes docs/BENCHMARKS.md "Release cost" + docs/release-cost.svg
 *   BENCH_ROUNDS=3 BENCH_WRITE=0 npm run bench   # fewer rounds, print only
 *
 * Server time per call comes from Redis itself (INFO commandstats, usec of EVALSHA,
 * read before and after each measured phase). Calls per second is the client's
 * count over the wall time of the measured phases. A release needs a busy
 * executor, so before each batch the talk's and the fenced variant allocate (not
 * measured); for the floor, the busy markers its DEL deletes are set (not measured).
 * Batches are at most 100 releases, so the
 * list stays >= 90% of the pool while the talk's script scans it.
 */
import { readFileSync, writeFileSync, existsSync, mkdirSync } from 'node:fs';
import { cpus, loadavg, totalmem } from 'node:os';
import { fileURLToPath } from 'node:url';
import { Redis } from 'ioredis';
import { startPrivateRedis } from '../server/redis/privateRedis.ts';
import { loadScripts } from '../server/redis/scripts.ts';
import { allocationKeys, executorUrls, fencedReleaseArgs, fencedReleaseKeys, poolEntry, talkReleaseKeys } from '../server/pool/executorPool.ts';
import { poolKeys } from '../server/pool/keys.ts';
import { replaceSection } from './markdown.ts';
import { releaseCostChart } from './releaseCostChart.ts';

export type Variant = 'talk' | 'fenced' | 'floor';
export type Mode = 'unpipelined' | 'pipelined';
export const VARIANTS: Variant[] = ['talk', 'fenced', 'floor'];
export const MODES: Mode[] = ['unpipelined', 'pipelined'];
export const SIZES = [10, 1_000, 10_000];

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 5);
const PHASE_TARGET_MS = Number(process.env.BENCH_PHASE_MS ?? 300);
const WRITE = process.env.BENCH_WRITE !== '0';
const BATCH = 100;
const POOL = 'bench';
const ROOT = fileURLToPath(new URL('..', import.meta.url));

export interface Measurement {
  variant: Variant;
  mode: Mode;
  size: number;
  calls: number;
  serverUsPerCall: number;
  callsPerSecond: number;
}

async function evalStats(redis: Redis): Promise<{ calls: number; usec: number }> {
  const info = await redis.info('commandstats');
  let calls = 0;
  let usec = 0;
  for (const match of info.matchAll(/^cmdstat_(?:evalsha|eval):calls=(\d+),usec=(\d+)/gm)) {
    calls += Number(match[1]);
    usec += Number(match[2]);
  }
  return { calls, usec };
}

type ScriptCall = (...args: (string | number)[]) => Promise<unknown>;

/** One script call's keys and arguments, built before the clock starts. */
type Call = (string | number)[];

const COMMANDS: Record<Variant, string> = { talk: 'release_executor', fenced: 'release_executor_fenced', floor: 'floor_release' };

/** Each variant plays on a pool of its own, so none finds another's executors busy. */
const poolOf = (variant: Variant) => `${POOL}-${variant}`;

/** Not measured: makes `batch` executors of the variant's pool busy (the floor needs none) and builds every call. */
async function prepareBatch(redis: Redis, variant: Variant, batch: number): Promise<Call[]> {
  const pool = poolOf(variant);
  const keys = poolKeys(pool);
  if (variant === 'floor') {
    // Its DEL deletes a real busy marker, as a release does (a DEL of a missing key costs less than any release can).
    const marking = redis.pipeline();
    for (let i = 0; i < batch; i++) marking.set(keys.busyPrefix + `executor-${i + 1}`, `bench-${i}@0`, 'PX', 600_000);
    await marking.exec();
    return Array.from({ length: batch }, (_, i) => [keys.busyPrefix + `executor-${i + 1}`, keys.available, poolEntry(`executor-${i + 1}`)]);
  }
  const allocating = redis.pipeline() as unknown as Record<string, ScriptCall> & { exec(): Promise<[Error | null, unknown][]> };
  for (let i = 0; i < batch; i++) allocating.allocate_executor_fenced!(...allocationKeys(pool), `bench-${i}`, 600_000);
  return (await allocating.exec()).map(([error, reply], i) => {
    if (error) throw error;
    const [entry, , token] = reply as [string, string, number];
    const executor = (JSON.parse(entry) as { url: string }).url;
    return variant === 'talk'
      ? [...talkReleaseKeys(pool, executor), executor, poolEntry(executor)]
      : [...fencedReleaseKeys(pool, executor), ...fencedReleaseArgs(executor, { evalId: `bench-${i}`, token })];
  });
}

/**
 * The three scripts at one pool size and mode, batch by batch in turn (talk,
 * fenced, floor, talk, …), so that whatever else the machine does in a moment
 * falls on all three alike; each batch's server time is read from Redis around it.
 */
async function measure(redis: Redis, mode: Mode, size: number, order: readonly Variant[]): Promise<Measurement[]> {
  const commands = redis as unknown as Record<string, ScriptCall>;
  for (const variant of order) {
    const keys = poolKeys(poolOf(variant));
    await commands.reset_pool!(keys.available, keys.members, keys.busyPrefix, keys.releaseTimesPrefix, ...executorUrls(size));
  }
  const batch = Math.min(size, BATCH);
  const totals = new Map(order.map((variant) => [variant, { calls: 0, usec: 0, wallNs: 0n }]));
  const enough = (t: { calls: number; wallNs: bigint }) => t.wallNs >= BigInt(PHASE_TARGET_MS) * 1_000_000n && t.calls >= 2 * batch;
  while (![...totals.values()].every(enough)) {
    for (const variant of order) {
      const total = totals.get(variant)!;
      // A script that has had its time sits out (the talk's at 10,000 takes seconds per batch).
      if (enough(total)) continue;
      const releases = await prepareBatch(redis, variant, batch);
      const before = await evalStats(redis);
      const started = process.hrtime.bigint();
      if (mode === 'unpipelined') {
        for (const call of releases) await commands[COMMANDS[variant]]!(...call);
      } else {
        const pipeline = redis.pipeline() as unknown as Record<string, ScriptCall> & { exec(): Promise<unknown> };
        for (const call of releases) pipeline[COMMANDS[variant]]!(...call);
        await pipeline.exec();
      }
      total.wallNs += process.hrtime.bigint() - started;
      const after = await evalStats(redis);
      total.calls += after.calls - before.calls;
      total.usec += after.usec - before.usec;
    }
  }
  return order.map((variant) => {
    const { calls, usec, wallNs } = totals.get(variant)!;
    return { variant, mode, size, calls, serverUsPerCall: usec / calls, callsPerSecond: calls / (Number(wallNs) / 1e9) };
  });
}

export function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

export interface Summary {
  variant: Variant;
  mode: Mode;
  size: number;
  serverUsPerCall: number;
  callsPerSecond: number;
  /** Median over rounds of (this variant's calls/s ÷ the floor's, same round, same size and mode). */
  throughputVsFloor: number;
  /** Median over rounds of (this variant's server µs ÷ the floor's). */
  costVsFloor: number;
}

export function summarize(rounds: Measurement[][]): Summary[] {
  const out: Summary[] = [];
  for (const size of SIZES) {
    for (const mode of MODES) {
      for (const variant of VARIANTS) {
        const pick = (round: Measurement[], v: Variant) => round.find((m) => m.variant === v && m.mode === mode && m.size === size)!;
        out.push({
          variant,
          mode,
          size,
          serverUsPerCall: median(rounds.map((round) => pick(round, variant).serverUsPerCall)),
          callsPerSecond: median(rounds.map((round) => pick(round, variant).callsPerSecond)),
          throughputVsFloor: median(rounds.map((round) => pick(round, variant).callsPerSecond / pick(round, 'floor').callsPerSecond)),
          costVsFloor: median(rounds.map((round) => pick(round, variant).serverUsPerCall / pick(round, 'floor').serverUsPerCall)),
        });
      }
    }
  }
  return out;
}

const NAMES: Record<Variant, string> = {
  talk: "the talk's release (`release_executor.lua`)",
  fenced: 'fenced release (`release_executor_fenced-2.lua`)',
  floor: 'floor (DEL of the marker + LPUSH + RPOP)',
};

function fmt(n: number, digits = 1): string {
  return n >= 100 ? Math.round(n).toLocaleString('en-US') : n.toFixed(digits);
}

export function markdownSection(summary: Summary[], machine: string, command: string, rounds: number): string {
  const lines: string[] = [];
  lines.push(`Command: \`${command}\` (on a private \`redis-server\`, one client; ${rounds} rounds, in each the three scripts take turns batch by batch).`);
  lines.push('');
  lines.push(`Machine: ${machine}`);
  lines.push('');
  lines.push('Server µs per call: `INFO commandstats` (usec of EVALSHA over the measured calls). Calls/s: the client\'s count over the');
  lines.push('wall time of the measured calls. Medians over the rounds; "× floor" is the median of the per-round ratios.');
  lines.push('');
  lines.push('| pool size | script | µs/call | calls/s | × floor calls/s | µs/call, pipelined | calls/s, pipelined | × floor calls/s, pipelined |');
  lines.push('|---:|---|---:|---:|---:|---:|---:|---:|');
  for (const size of SIZES) {
    for (const variant of VARIANTS) {
      const one = summary.find((s) => s.size === size && s.variant === variant && s.mode === 'unpipelined')!;
      const many = summary.find((s) => s.size === size && s.variant === variant && s.mode === 'pipelined')!;
      lines.push(
        `| ${size.toLocaleString('en-US')} | ${NAMES[variant]} | ${fmt(one.serverUsPerCall)} | ${fmt(one.callsPerSecond)} | ${one.throughputVsFloor.toFixed(2)} | ${fmt(many.serverUsPerCall)} | ${fmt(many.callsPerSecond)} | ${many.throughputVsFloor.toFixed(2)} |`,
      );
    }
  }
  const at = (variant: Variant, size: number, mode: Mode) => summary.find((s) => s.variant === variant && s.size === size && s.mode === mode)!;
  const f10 = at('fenced', 10, 'pipelined');
  const f10k = at('fenced', 10_000, 'pipelined');
  const t10k = at('talk', 10_000, 'pipelined');
  lines.push('');
  const oneByOne = at('fenced', 10_000, 'unpipelined').throughputVsFloor;
  const goal = (ratio: number) => (ratio >= 0.8 ? 'goal met' : 'below the goal');
  lines.push(
    `At 10,000 executors the fenced release runs at ${oneByOne.toFixed(2)}x the floor's calls/s one call per round trip (${goal(oneByOne)}) and ` +
      `${f10k.throughputVsFloor.toFixed(2)}x pipelined (${goal(f10k.throughputVsFloor)}; the goal is >= 0.8x). Its server time is ${fmt(f10.serverUsPerCall)} µs at 10 and ` +
      `${fmt(f10k.serverUsPerCall)} µs at 10,000 executors (${(f10k.serverUsPerCall / f10.serverUsPerCall).toFixed(2)}x, as the floor's own ${fmt(at('floor', 10, 'pipelined').serverUsPerCall)} → ${fmt(at('floor', 10_000, 'pipelined').serverUsPerCall)} µs: flat), ${f10k.costVsFloor.toFixed(1)}x the floor's; ` +
      `the talk's release takes ${fmt(t10k.serverUsPerCall)} µs at 10,000 (${(t10k.serverUsPerCall / f10k.serverUsPerCall).toFixed(0)}x the fenced one). ` +
      'The floor deletes a real busy marker, as every release does; the fenced release is as many commands (GET of the marker, DEL, LPUSH against the floor\'s DEL, LPUSH, RPOP) plus the compare of the marker with the caller.',
  );
  lines.push('');
  lines.push('![Release cost: server µs per call, pipelined, by pool size, log scales](release-cost.svg)');
  lines.push('');
  lines.push('Every round\'s raw figures: `docs/release-cost.json`.');
  return lines.join('\n');
}

async function main(): Promise<void> {
  const redisServer = await startPrivateRedis();
  const redis = new Redis(redisServer.url, { maxRetriesPerRequest: 1 });
  // The floor lives in bench/lua, not lua/: the server never loads it.
  const floorSource = readFileSync(fileURLToPath(new URL('./lua/floor_release-2.lua', import.meta.url)), 'utf8');
  redis.defineCommand('floor_release', { numberOfKeys: 2, lua: floorSource });
  loadScripts(redis);
  const version = ((await redis.info('server')).match(/redis_version:(\S+)/) ?? [])[1] ?? '?';
  const machine = `${cpus().length} × ${cpus()[0]?.model ?? 'unknown CPU'}, ${(totalmem() / 2 ** 30).toFixed(1)} GiB, Node ${process.version}, Redis ${version}, load average at start ${loadavg()[0]!.toFixed(2)} (shared machine)`;
  console.log(machine);

  const rounds: Measurement[][] = [];
  try {
    // Warm-up: every script loaded (EVALSHA hits), the allocator's pages touched.
    await measure(redis, 'pipelined', 10, VARIANTS);
    for (let r = 0; r < ROUNDS; r++) {
      const round: Measurement[] = [];
      for (const size of SIZES) {
        for (const mode of MODES) {
          // Rotate the order each round so no script always goes first.
          const order = VARIANTS.map((_, i) => VARIANTS[(i + r) % VARIANTS.length]!);
          for (const m of await measure(redis, mode, size, order)) {
            round.push(m);
            console.log(
              `round ${r + 1}/${ROUNDS} size ${String(size).padStart(6)} ${mode.padEnd(11)} ${m.variant.padEnd(6)} ` +
                `${m.serverUsPerCall.toFixed(1).padStart(8)} µs/call ${Math.round(m.callsPerSecond).toString().padStart(7)} calls/s (${m.calls} calls)`,
            );
          }
        }
      }
      rounds.push(round);
    }
  } finally {
    redis.disconnect();
    await redisServer.stop();
  }

  const summary = summarize(rounds);
  console.log('\nmedians:');
  for (const s of summary) {
    console.log(
      `${String(s.size).padStart(6)} ${s.mode.padEnd(11)} ${s.variant.padEnd(6)} ${s.serverUsPerCall.toFixed(1).padStart(8)} µs/call ${Math.round(s.callsPerSecond).toString().padStart(7)} calls/s  ${s.throughputVsFloor.toFixed(2)}x floor calls/s`,
    );
  }
  if (!WRITE) return;
  const command = ROUNDS === 5 ? 'npm run bench' : `BENCH_ROUNDS=${ROUNDS} npm run bench`;
  const docs = `${ROOT}docs`;
  if (!existsSync(docs)) mkdirSync(docs);
  writeFileSync(`${docs}/release-cost.svg`, releaseCostChart(summary));
  // Every round's raw figures, so the medians and ratios above can be checked.
  writeFileSync(`${docs}/release-cost.json`, `${JSON.stringify({ command, machine, rounds }, null, 1)}\n`);
  const file = `${docs}/BENCHMARKS.md`;
  const current = existsSync(file) ? readFileSync(file, 'utf8') : '# Benchmarks\n\nEvery figure here comes from a command in this repository; each section says which, and on what machine.\n';
  writeFileSync(file, replaceSection(current, 'Release cost', markdownSection(summary, machine, command, ROUNDS)));
  console.log(`\nwrote docs/BENCHMARKS.md ("Release cost") and docs/release-cost.svg`);
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  main().catch((error: unknown) => {
    console.error(error);
    process.exitCode = 1;
  });
}
