/**
 * `npm run bench:audience`: does the site hold a hall? N viewers watch pool
 * `main` while an acting client fires 10 actions a second; each viewer times
 * every message against the server's `readAt`, the acting client times its acks.
 * Every trial runs a bare socket.io server speaking the same protocol back to
 * back with ours, and only the ratios of the two count: on a small machine the
 * load generator itself saturates a core long before the server does.
 *
 * Four processes per trial: the server, the viewers, the acting client, and this
 * conductor, which only starts, signals and reads them.
 *
 *   npm run bench:audience -- [--viewers 1000,2000,4000] [--runs 3] [--seconds 10] [--json out.json]
 *
 * `--cluster`: the site as `npm run cluster` runs it, through Debian's nginx, 1 and 2
 * instances (nginx1, nginx2), each trial back to back with our server alone (ours), by
 * default at 4,000 viewers. nginx1 / ours is what the hop through nginx costs; nginx2 /
 * nginx1 what the second instance costs (the relay of every change through Redis).
 * Delivery behind nginx is checked as every viewer getting the same number of messages.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { cpus, totalmem } from 'node:os';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import type { ActorReport, FromChild, ServerKind, ServerUsage, ToChild, ViewerReport } from './ipc.ts';
import { median } from './stats.ts';

const HERE = fileURLToPath(new URL('.', import.meta.url));
const ACTIONS_PER_SECOND = 10;
const SETTLE_MS = 4000;
const STEP_TIMEOUT_MS = 180_000;

const SERVER_KINDS: readonly ServerKind[] = ['bare', 'ours', 'nginx1', 'nginx2'];
const { values: flags } = (() => {
  try {
    return parseFlags();
  } catch (error) {
    console.error(`${(error as Error).message}\nUsage: npm run bench:audience -- [--viewers 1000,2000,4000] [--runs N] [--seconds N] [--json out.json] [--servers ${['bare', 'ours', 'nginx1', 'nginx2'].join(',')}] [--cluster]`);
    process.exit(2);
  }
})();
function parseFlags() {
  return parseArgs({
    options: {
      viewers: { type: 'string' },
      runs: { type: 'string', default: '1' },
      seconds: { type: 'string', default: '10' },
      json: { type: 'string', default: '' },
      servers: { type: 'string' },
      cluster: { type: 'boolean', default: false },
    },
    strict: true,
    allowPositionals: false,
  });
}
const viewerCounts = (flags.viewers ?? (flags.cluster ? '4000' : '1000,2000,4000')).split(',').map(Number);
const runs = Number(flags.runs);
const seconds = Number(flags.seconds);
const jsonOut = flags.json;
const kinds = (flags.servers ?? (flags.cluster ? 'ours,nginx1,nginx2' : 'bare,ours')).split(',') as ServerKind[];
for (const [name, value] of [['viewers', viewerCounts], ['runs', [runs]], ['seconds', [seconds]]] as const) {
  if (value.some((n) => !Number.isInteger(n) || n < 1)) throw new Error(`--${name}: whole numbers from 1, not ${JSON.stringify(flags[name] ?? value)}`);
}
const unknownKinds = kinds.filter((kind) => !SERVER_KINDS.includes(kind));
if (unknownKinds.length > 0) throw new Error(`--servers: ${unknownKinds.join(', ')} unknown (${SERVER_KINDS.join(', ')})`);

interface Trial {
  run: number;
  viewers: number;
  server: ServerKind;
  connectMs: number;
  usage: ServerUsage;
  hall: ViewerReport;
  actor: ActorReport;
  /** Every broadcast reached every viewer: each viewer's count of each event equals the server's. */
  allDelivered: boolean;
}

class Child {
  private readonly waiting: { type: FromChild['type']; resolve: (m: FromChild) => void }[] = [];
  readonly process: ChildProcess;
  constructor(file: string, args: string[], env: Record<string, string> = {}) {
    this.process = fork(`${HERE}${file}`, args, { execArgv: ['--import', 'tsx'], env: { ...process.env, ...env }, stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    this.process.on('message', (message: FromChild) => {
      if (message.type === 'failed') throw new Error(`${file} failed: ${message.error}`);
      const index = this.waiting.findIndex((w) => w.type === message.type);
      if (index >= 0) this.waiting.splice(index, 1)[0]!.resolve(message);
    });
    this.process.on('exit', (code, signal) => {
      if (this.waiting.length > 0) throw new Error(`${file} exited (${signal ?? code}) while awaited`);
    });
  }
  next<T extends FromChild['type']>(type: T): Promise<Extract<FromChild, { type: T }>> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no ${type} within ${STEP_TIMEOUT_MS} ms`)), STEP_TIMEOUT_MS);
      this.waiting.push({ type, resolve: (m) => (clearTimeout(timer), resolve(m as Extract<FromChild, { type: T }>)) });
    });
  }
  tell(message: ToChild): void {
    this.process.send(message);
  }
  async stop(): Promise<void> {
    if (this.process.exitCode !== null || this.process.signalCode !== null) return;
    const exited = new Promise((resolve) => this.process.once('exit', resolve));
    this.process.kill('SIGTERM');
    const timer = setTimeout(() => this.process.kill('SIGKILL'), 10_000);
    await exited;
    clearTimeout(timer);
  }
}

const SERVER_PROCESS: Record<ServerKind, [file: string, args: string[]]> = {
  bare: ['bareServer.ts', []],
  ours: ['ourServer.ts', []],
  nginx1: ['clusterServer.ts', ['1']],
  nginx2: ['clusterServer.ts', ['2']],
};

async function trial(run: number, viewers: number, server: ServerKind): Promise<Trial> {
  const serverProcess = new Child(...SERVER_PROCESS[server]);
  const children = [serverProcess];
  try {
    const { url } = await serverProcess.next('ready');
    const hall = new Child('viewers.ts', [url!, String(viewers)]);
    children.push(hall);
    const { connectMs } = await hall.next('ready');
    const actor = new Child('actor.ts', [url!]);
    children.push(actor);
    await actor.next('ready');

    serverProcess.tell({ type: 'measure' });
    hall.tell({ type: 'measure' });
    await new Promise((resolve) => setTimeout(resolve, 500));
    const acted = actor.next('actor');
    actor.tell({ type: 'go', actions: ACTIONS_PER_SECOND * seconds, intervalMs: 1000 / ACTIONS_PER_SECOND });
    const { report: actorReport } = await acted;
    await new Promise((resolve) => setTimeout(resolve, SETTLE_MS));

    const usageMessage = serverProcess.next('usage');
    serverProcess.tell({ type: 'report' });
    const { usage } = await usageMessage;
    const hallMessage = hall.next('viewers');
    hall.tell({ type: 'report' });
    const { report } = await hallMessage;
    const changes = report.delivery['pool:changed'];
    const allDelivered =
      report.connected === viewers &&
      (server.startsWith('nginx')
        ? // The instances behind nginx count nothing: every viewer got the same messages, and some.
          changes !== undefined && changes.min > 0 && changes.min === changes.max
        : Object.entries(usage.broadcasts).every(([event, sent]) => report.delivery[event]?.min === sent && report.delivery[event]?.max === sent));
    return { run, viewers, server, connectMs: connectMs ?? 0, usage, hall: report, actor: actorReport, allDelivered };
  } finally {
    for (const child of children.reverse()) await child.stop();
  }
}

const fmt = (ms: number) => (Number.isFinite(ms) ? ms.toFixed(ms < 10 ? 1 : 0) : '–');
const ratio = (a: number, b: number) => (b > 0 ? a / b : Number.NaN);

function line(t: Trial): string {
  const broadcasts = Object.entries(t.usage.broadcasts).map(([e, n]) => `${e.replace('pool:', '')} ${n}`).join(' + ') || 'none';
  const delivered = t.allDelivered ? 'all' : `NO (${JSON.stringify(t.hall.delivery)}, connected ${t.hall.connected})`;
  const failures = Object.entries(t.actor.failed).map(([e, n]) => `${e} ${n}`).join(', ');
  return (
    `run ${t.run} ${String(t.viewers).padStart(5)} ${t.server.padEnd(6)}  fan-out p50/p99 ${fmt(t.hall.fanOut.p50)}/${fmt(t.hall.fanOut.p99)} ms` +
    `  ack p50/p99 ${fmt(t.actor.ack.p50)}/${fmt(t.actor.ack.p99)} ms (${t.actor.acked}/${t.actor.sent}${failures ? `, ${failures}` : ''})` +
    `  broadcasts ${broadcasts}, delivered ${delivered}` +
    `  cpu ${fmt(t.usage.cpuMs)} ms${t.usage.redisCpuMs !== null ? ` (+redis ${fmt(t.usage.redisCpuMs)})` : ''}${t.usage.nginxCpuMs !== undefined ? ` (+nginx ${fmt(t.usage.nginxCpuMs)})` : ''}${t.usage.redisCalls !== undefined ? `, redis commands ${t.usage.redisCalls} (${fmt(t.usage.redisCalls / t.actor.sent)} per action)` : ''} / ${fmt(t.usage.windowMs)} ms, rss ${fmt(t.usage.rssMaxMb)} MB` +
    `  server lag p99 ${fmt(t.usage.loopLagP99Ms)} ms, generator lag p99 ${fmt(t.hall.loopLagP99Ms)} ms, actor lag p99 ${fmt(t.actor.loopLagP99Ms)} ms`
  );
}

const trials: Trial[] = [];
console.log(`audience benchmark: ${viewerCounts.join(', ')} viewers × ${runs} run(s), ${ACTIONS_PER_SECOND} actions/s for ${seconds} s; ${cpus().length} × ${cpus()[0]?.model ?? 'cpu'}, ${(totalmem() / 2 ** 30).toFixed(0)} GB, node ${process.version}`);
for (let run = 1; run <= runs; run++) {
  for (const viewers of viewerCounts) {
    for (const server of kinds) {
      const t = await trial(run, viewers, server);
      trials.push(t);
      console.log(line(t));
    }
  }
}

/**
 * One table comparing `a` against `b`: ratios are taken within one run (the two back to
 * back), then the median over runs. CPU: the server processes, (+ Redis, + nginx).
 */
function compare(a: ServerKind, b: ServerKind, title: string): void {
  console.log(`\n${title}\n`);
  console.log(`| viewers | fan-out p99, ${a} / ${b} | ratio | ack p99, ${a} / ${b} | ratio | every broadcast delivered | server CPU ms (+redis, +nginx), ${a} / ${b} | rss MB, ${a} / ${b} |`);
  console.log('|---|---|---|---|---|---|---|---|');
  for (const viewers of viewerCounts) {
    const pairs: { a: Trial; b: Trial }[] = [];
    for (let run = 1; run <= runs; run++) {
      const first = trials.find((t) => t.run === run && t.viewers === viewers && t.server === a);
      const second = trials.find((t) => t.run === run && t.viewers === viewers && t.server === b);
      if (first && second) pairs.push({ a: first, b: second });
    }
    if (pairs.length === 0) continue;
    const m = (pick: (t: Trial) => number, side: 'a' | 'b') => median(pairs.map((p) => pick(p[side])));
    const r = (pick: (t: Trial) => number) => median(pairs.map((p) => ratio(pick(p.a), pick(p.b))));
    const fan = (t: Trial) => t.hall.fanOut.p99;
    const ack = (t: Trial) => t.actor.ack.p99;
    const rss = (t: Trial) => t.usage.rssMaxMb;
    const cpu = (side: 'a' | 'b') => {
      const own = fmt(m((t) => t.usage.cpuMs, side));
      const redis = pairs[0]![side].usage.redisCpuMs !== null ? ` +${fmt(m((t) => t.usage.redisCpuMs ?? 0, side))}` : '';
      const nginx = pairs[0]![side].usage.nginxCpuMs !== undefined ? ` +${fmt(m((t) => t.usage.nginxCpuMs ?? 0, side))}` : '';
      return `${own}${redis}${nginx}`;
    };
    const delivered = pairs.every((p) => p.a.allDelivered && p.b.allDelivered);
    console.log(
      `| ${viewers.toLocaleString('en')} | ${fmt(m(fan, 'a'))} / ${fmt(m(fan, 'b'))} ms | ${r(fan).toFixed(2)}x | ${fmt(m(ack, 'a'))} / ${fmt(m(ack, 'b'))} ms | ${r(ack).toFixed(2)}x | ${delivered ? 'yes' : 'NO'} (${pairs.length} run${pairs.length > 1 ? 's' : ''}) | ${cpu('a')} / ${cpu('b')} | ${fmt(m(rss, 'a'))} / ${fmt(m(rss, 'b'))} |`,
    );
  }
}

if (kinds.includes('ours') && kinds.includes('bare')) compare('ours', 'bare', 'Our server against a bare socket.io server:');
if (kinds.includes('nginx1') && kinds.includes('ours')) compare('nginx1', 'ours', 'The hop: one instance behind nginx against our server alone:');
if (kinds.includes('nginx2') && kinds.includes('nginx1')) compare('nginx2', 'nginx1', 'The relay: two instances behind nginx against one behind the same nginx:');
if (jsonOut) writeFileSync(jsonOut, JSON.stringify(trials, null, 2));
process.exit(trials.every((t) => t.allDelivered) ? 0 : 1);
