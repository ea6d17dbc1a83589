/**
 * `npm run bench:chaos`: a chaos round with a hall of simulated phones on this
 * machine. The site runs in this process (private Redis), the phones in one of
 * their own, the presenter's probe in another. Prints the round's summary, what
 * the phones saw, and the presenter's latency during the round (the bound: 250 ms
 * p99), with the machine's load average (a shared machine's figures vary).
 *
 * Then the round's history is downloaded `--downloads` times, as a browser asks for
 * it (gzip taken), the body read and dropped: what each download costs the server's
 * event loop.
 *
 *   npm run bench:chaos -- [--phones 1000] [--seconds 20] [--downloads 10] [--json out.json]
 */
import { get as httpGet } from 'node:http';
import { writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { createApp } from '../../server/app.ts';
import { loadConfig } from '../../server/config.ts';
import { createLogger } from '../../server/log.ts';
import { CHAOS_VARIANTS } from '../../server/protocol.ts';
import { driveRound } from './driveRound.ts';

function option(name: string, fallback: string): string {
  const index = process.argv.indexOf(`--${name}`);
  return index >= 0 ? (process.argv[index + 1] ?? fallback) : fallback;
}
const phones = Number(option('phones', '1000'));
const seconds = Number(option('seconds', '20'));
const jsonOut = option('json', '');
const downloads = Number(option('downloads', '10'));

/** One history download, its body counted and dropped: bytes on the wire and milliseconds. */
function download(url: string): Promise<{ bytes: number; ms: number }> {
  const started = performance.now();
  return new Promise((resolve, reject) => {
    httpGet(url, { headers: { 'accept-encoding': 'gzip' } }, (response) => {
      let bytes = 0;
      response.on('data', (chunk: Buffer) => (bytes += chunk.length));
      response.on('end', () => (response.statusCode === 200 ? resolve({ bytes, ms: performance.now() - started }) : reject(new Error(`history download: HTTP ${response.statusCode}`))));
      response.on('error', reject);
    }).on('error', reject);
  });
}
const secret = 'bench-presenter-secret';

const config = loadConfig({ PORT: '0', HOST: '127.0.0.1', TASK_WORKERS: '0', PRESENTER_SECRET: secret, LOG_LEVEL: 'error' }, []);
const app = await createApp(config, { log: createLogger({ level: 'error' }), distDir: null });
const lag = monitorEventLoopDelay({ resolution: 10 });
try {
  const loadBefore = loadavg()[0]!;
  lag.enable();
  const round = await driveRound({ url: app.url, presenterSecret: secret, phones, seconds });
  lag.disable();
  const { state, presenter } = round;
  console.log(`chaos round ${round.id}: ${phones} phones, ${seconds} s, load average ${loadBefore.toFixed(1)} → ${loadavg()[0]!.toFixed(1)}`);
  console.log(`  phones: ${round.phones.connected} connected, ${round.phones.sent} taps sent, ${round.phones.accepted} accepted, refused ${JSON.stringify(round.phones.refused)}, at most ${round.phones.maxMessagesPerSecond} messages/s to a phone`);
  console.log(`  round: ${state.participants} participants, ${state.taps} taps, deliveries ${JSON.stringify(state.deliveries)}`);
  for (const variant of CHAOS_VARIANTS) {
    const score = state.variants[variant];
    console.log(`  ${variant.padEnd(6)} ${String(score.operations).padStart(6)} operations, ${String(score.violations).padStart(5)} violations${score.firstViolation ? `; first: ${score.firstViolation.message}` : ''}`);
  }
  console.log(`  presenter (own process, every 50 ms): ${presenter.requests} requests, ${presenter.failed} failed, p50 ${presenter.latency.p50.toFixed(1)} ms, p99 ${presenter.latency.p99.toFixed(1)} ms, max ${presenter.latency.max.toFixed(1)} ms`);
  console.log(`  server event-loop delay: p99 ${(lag.percentile(99) / 1e6).toFixed(1)} ms, max ${(lag.max / 1e6).toFixed(1)} ms`);
  const downloadLag = monitorEventLoopDelay({ resolution: 10 });
  downloadLag.enable();
  const fetched: { bytes: number; ms: number }[] = [];
  for (let i = 0; i < downloads; i++) fetched.push(await download(`${app.url}/api/chaos/rounds/${round.id}/history`));
  downloadLag.disable();
  if (downloads > 0) {
    const ms = fetched.map((d) => d.ms).sort((a, b) => a - b);
    console.log(`  history: ${downloads} downloads of ${(fetched[0]!.bytes / 1e6).toFixed(1)} MB on the wire, median ${ms[Math.floor(ms.length / 2)]!.toFixed(0)} ms each; server event-loop delay meanwhile: max ${(downloadLag.max / 1e6).toFixed(1)} ms, p99 ${(downloadLag.percentile(99) / 1e6).toFixed(1)} ms`);
  }
  if (jsonOut) writeFileSync(jsonOut, JSON.stringify({ phones, seconds, state, phonesReport: round.phones, presenter, loadAverage: loadavg() }, null, 2));
} finally {
  await app.close();
}
