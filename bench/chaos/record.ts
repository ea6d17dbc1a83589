/**
 * `npm run record:chaos`: plays a real chaos round with simulated phones against a
 * site of its own (private Redis) and writes what a watcher got, tick by tick, and
 * the final summary to slides/recordings/chaos/round.json: the static build and the
 * PDF replay it, labelled as simulated phones.
 *
 *   npm run record:chaos -- [--phones 1000] [--seconds 20]
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { createApp } from '../../server/app.ts';
import { loadConfig } from '../../server/config.ts';
import { createLogger } from '../../server/log.ts';
import { CHAOS_RECORDING_FORMAT, type ChaosRoundRecording } from '../../demo/panels/chaosRecording.ts';
import { driveRound } from './driveRound.ts';

function option(name: string, fallback: string): string {
  const index = process.argv.indexOf(`--${name}`);
  return index >= 0 ? (process.argv[index + 1] ?? fallback) : fallback;
}
const phones = Number(option('phones', '1000'));
const seconds = Number(option('seconds', '20'));
const secret = 'record-presenter-secret';
const out = fileURLToPath(new URL('../../slides/recordings/chaos/', import.meta.url));

const config = loadConfig({ PORT: '0', HOST: '127.0.0.1', TASK_WORKERS: '0', PRESENTER_SECRET: secret, LOG_LEVEL: 'error' }, []);
const app = await createApp(config, { log: createLogger({ level: 'error' }), distDir: null });
try {
  const round = await driveRound({ url: app.url, presenterSecret: secret, phones, seconds });
  const recording: ChaosRoundRecording = {
    format: CHAOS_RECORDING_FORMAT,
    formatVersion: 1,
    recordedAt: new Date().toISOString(),
    phones,
    simulated: true,
    command: `npm run record:chaos -- --phones ${phones} --seconds ${seconds}`,
    states: round.states.map((state, i, all) => (i === all.length - 1 ? state : { ...state, series: state.series.slice(-1) })),
    final: round.state,
  };
  mkdirSync(out, { recursive: true });
  writeFileSync(`${out}round.json`, `${JSON.stringify(recording)}\n`);
  const { naive, lua, fenced } = round.state.variants;
  console.log(`recorded round ${round.id}: ${round.state.taps} taps, ${round.state.participants} participants; violations naive ${naive.violations}, lua ${lua.violations}, fenced ${fenced.violations}`);
} finally {
  await app.close();
}
