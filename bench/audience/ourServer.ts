/**
 * Our server, as `npm start` runs it (private Redis, the pool channel, the run
 * channel), started in a process of its own for the audience benchmark. The
 * acting client must not hit the viewer rate limit: 10 actions/s is the load.
 * The deck is served too when BENCH_DECK=1 (the click-to-panel benchmark).
 */
import { loadConfig } from '../../server/config.ts';
import { createApp } from '../../server/app.ts';
import { createLogger } from '../../server/log.ts';
import { onConductor, send } from './ipc.ts';
import { probeServer } from './serverProbe.ts';

const config = loadConfig(
  {
    PORT: '0',
    HOST: '127.0.0.1',
    TASK_WORKERS: '0',
    VIEWER_ACTIONS_PER_SECOND: '1000',
    VIEWER_ACTION_BURST: '1000',
    PANEL_ACTIONS_PER_SECOND: '1000',
    PANEL_ACTION_BURST: '1000',
    // Thousands of viewers from one address and no cookie, connecting at once: in a real hall each
    // phone has a session of its own, so neither the handshake cap nor the per-client budget applies.
    HANDSHAKES_PER_SECOND: '100000',
    SOCKET_EVENTS_PER_SECOND: '10000',
    // The acting client cycles 4 executors every 0.8 s: not a double release.
    DOUBLE_RELEASE_WINDOW_MS: '100',
    PRESENTER_SECRET: process.env.BENCH_PRESENTER_SECRET ?? 'bench-presenter-secret',
    LOG_LEVEL: 'error',
  },
  [],
);
const app = await createApp(config, { log: createLogger({ level: 'error' }), ...(process.env.BENCH_DECK === '1' ? {} : { distDir: null }) });
const probe = probeServer(app.io, 'pool:main', 'ours');
// The click-to-panel benchmark clicks as a viewer would, once the presenter opened the Lua panel.
if (process.env.BENCH_DECK === '1') app.hall.deck.setOpen('lua-release', true);

async function redisCpuMs(): Promise<number> {
  const info = await app.redis.info('cpu');
  const field = (name: string) => Number(new RegExp(`${name}:([\\d.]+)`).exec(info)?.[1] ?? 0);
  return (field('used_cpu_user') + field('used_cpu_sys')) * 1000;
}

let redisAtStart = 0;
onConductor(async (message) => {
  if (message.type === 'measure') {
    redisAtStart = await redisCpuMs();
    probe.start();
  } else if (message.type === 'report') {
    send({ type: 'usage', usage: probe.stop((await redisCpuMs()) - redisAtStart) });
  }
});
const stop = () => void app.close().finally(() => process.exit(0));
process.on('SIGTERM', stop);
process.on('disconnect', stop);
send({ type: 'ready', url: app.url });
