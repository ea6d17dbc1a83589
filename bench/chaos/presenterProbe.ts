/**
 * The presenter, timed from a process of its own during a chaos round: every
 * `intervalMs` one presenter request (the round's state, then the hall's state),
 * each timed from send to full answer.
 *
 * The probe starts (and is ready) before the round opens, so its own start-up
 * never eats into the round; it times from the `round` message on.
 *
 *   argv: <url> <presenter secret> [intervalMs]
 */
import { spread } from '../audience/stats.ts';
import { send, type ToChild } from './ipc.ts';

const [url, secret, intervalText] = process.argv.slice(2);
const intervalMs = Number(intervalText ?? 50);
let paths: string[] = [];
const latencies: number[] = [];
let failed = 0;
let stopped = false;

process.on('message', (message: ToChild) => {
  if (message.type === 'stop') stopped = true;
  if (message.type === 'round') paths = [`/api/chaos/rounds/${message.id}`, '/api/hall'];
});
// Warm up (the first request of a process pays for its own start), then wait for the round.
await fetch(`${url}/api/hall`, { headers: { authorization: `Bearer ${secret}` } }).then((r) => r.arrayBuffer());
send({ type: 'ready' });
while (paths.length === 0 && !stopped) await new Promise((resolve) => setTimeout(resolve, 10));
process.on('disconnect', () => process.exit(0));

for (let i = 0; !stopped; i++) {
  const started = performance.now();
  try {
    const response = await fetch(`${url}${paths[i % paths.length]}`, { headers: { authorization: `Bearer ${secret}` }, signal: AbortSignal.timeout(5000) });
    await response.arrayBuffer();
    if (!response.ok) failed++;
    latencies.push(performance.now() - started);
  } catch {
    failed++;
    latencies.push(performance.now() - started);
  }
  await new Promise((resolve) => setTimeout(resolve, intervalMs));
}
send({ type: 'probe', report: { requests: latencies.length, failed, latency: spread(latencies) } });
