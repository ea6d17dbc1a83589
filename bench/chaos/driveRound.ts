/**
 * Drives one chaos round on a running site with simulated phones: forks the
 * phones (bench/chaos/phones.ts), waits until all are connected, opens a round as
 * the presenter, times the presenter's requests from a process of its own
 * (bench/chaos/presenterProbe.ts) while the round runs, waits for the summary,
 * and downloads the round's state and histories. Every wait has a deadline.
 * Used by `npm run bench:chaos`, by the test of the round, and to record one.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { PoolHistory } from '../../server/checker/history.ts';
import type { ChaosRoundOpened, ChaosRoundState } from '../../server/protocol.ts';
import type { FromChild, PhonesReport, ProbeReport, ToChild } from './ipc.ts';

const HERE = fileURLToPath(new URL('.', import.meta.url));

export interface DriveOptions {
  url: string;
  presenterSecret: string;
  phones: number;
  seconds: number;
  seed?: number;
  /** A state of the round, every tick, as the phones get it (for a recording). */
  onState?: (state: ChaosRoundState) => void;
}

export interface DrivenRound {
  id: string;
  state: ChaosRoundState;
  histories: PoolHistory[];
  phones: PhonesReport;
  presenter: ProbeReport;
  /** The states a watcher got while the round ran, in order. */
  states: ChaosRoundState[];
}

function child(file: string, args: string[]): { process: ChildProcess; next<T extends FromChild['type']>(type: T, ms: number): Promise<Extract<FromChild, { type: T }>>; stop(): void } {
  const proc = fork(`${HERE}${file}`, args, { execArgv: ['--import', 'tsx'], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  const messages: FromChild[] = [];
  const waiters: (() => void)[] = [];
  let exited = false;
  proc.on('message', (m: FromChild) => {
    messages.push(m);
    for (const w of waiters.splice(0)) w();
  });
  proc.on('exit', () => {
    exited = true;
    for (const w of waiters.splice(0)) w();
  });
  return {
    process: proc,
    next: (type, ms) =>
      new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`${file}: no ${type} within ${ms} ms`)), ms);
        const look = () => {
          const failed = messages.find((m) => m.type === 'failed');
          if (failed && failed.type === 'failed') return (clearTimeout(timer), reject(new Error(`${file} failed: ${failed.error}`)));
          const found = messages.find((m) => m.type === type);
          if (found) return (clearTimeout(timer), resolve(found as Extract<FromChild, { type: typeof type }>));
          if (exited) return (clearTimeout(timer), reject(new Error(`${file} exited before ${type}`)));
          waiters.push(look);
        };
        look();
      }),
    stop: () => {
      if (!exited && proc.connected) proc.send({ type: 'stop' } satisfies ToChild);
    },
  };
}

async function getJson<T>(url: string, headers: Record<string, string> = {}): Promise<T> {
  const response = await fetch(url, { headers, signal: AbortSignal.timeout(10_000) });
  if (!response.ok) throw new Error(`${url}: ${response.status} ${await response.text()}`);
  return (await response.json()) as T;
}

export async function driveRound(options: DriveOptions): Promise<DrivenRound> {
  const { url, presenterSecret, phones, seconds } = options;
  const bearer = { authorization: `Bearer ${presenterSecret}` };
  const phoneProcess = child('phones.ts', [url, String(phones), String(options.seed ?? 1)]);
  let probe: ReturnType<typeof child> | null = null;
  try {
    probe = child('presenterProbe.ts', [url, presenterSecret, '50']);
    await Promise.all([phoneProcess.next('ready', 60_000 + phones * 60), probe.next('ready', 60_000)]);
    const opened = await fetch(`${url}/api/chaos/rounds`, {
      method: 'POST',
      headers: { ...bearer, 'content-type': 'application/json' },
      body: JSON.stringify({ seconds }),
      signal: AbortSignal.timeout(10_000),
    });
    if (opened.status !== 201) throw new Error(`opening the round: ${opened.status} ${await opened.text()}`);
    const { id } = (await opened.json()) as ChaosRoundOpened;
    probe.process.send({ type: 'round', id } satisfies ToChild);

    // Watch the round as the slide does, until its summary (deadline: the round, its settling, and margin).
    const states: ChaosRoundState[] = [];
    const deadline = Date.now() + seconds * 1000 + 60_000;
    let state = await getJson<ChaosRoundState>(`${url}/api/chaos/rounds/${id}`);
    while (state.status !== 'done') {
      if (Date.now() > deadline) throw new Error(`round ${id} not done within its deadline (${state.status})`);
      await new Promise((resolve) => setTimeout(resolve, 250));
      state = await getJson<ChaosRoundState>(`${url}/api/chaos/rounds/${id}`);
      if (state.at !== states.at(-1)?.at) {
        states.push(state);
        options.onState?.(state);
      }
    }
    probe.stop();
    phoneProcess.stop();
    const [presenter, phonesReport] = await Promise.all([probe.next('probe', 15_000), phoneProcess.next('phones', 15_000)]);
    const histories = await getJson<PoolHistory[]>(`${url}/api/chaos/rounds/${id}/history`);
    return { id, state, histories, phones: phonesReport.report, presenter: presenter.report, states };
  } finally {
    for (const c of [phoneProcess, probe]) if (c && c.process.exitCode === null) c.process.kill();
  }
}
