/**
 * Scenario runs, live: viewers join the `runs` room, start runs of the panels the
 * presenter opened (under the fault the presenter picked), and every run's timeline is streamed to everyone as it happens.
 */
import { z } from 'zod';
import { StartRunSocketRequest } from '../protocol.ts';
import { onRequest } from './requests.ts';
import type { Logger } from '../log.ts';
import type { Gate } from '../hall/gate.ts';
import type { HallDeck } from '../hall/deckState.ts';
import { audienceRunRequest } from '../hall/audienceRuns.ts';
import { panelOfScenario } from '../hall/audiencePanels.ts';
import type { RunService, RunServiceEvents } from '../scenarios/runService.ts';
import type { IoServer } from './poolChannel.ts';

const RUNS_ROOM = 'runs';
const WatchRuns = z.strictObject({});

export function createRunChannel(io: IoServer, runs: RunService, gate: Gate, deck: HallDeck, log: Logger): { destroy(): void } {
  const onStarted = (run: RunServiceEvents['started'][0]) => io.to(RUNS_ROOM).emit('run:started', run);
  const onEvent = (update: RunServiceEvents['event'][0]) => io.to(RUNS_ROOM).emit('run:event', update);
  const onFinished = (run: RunServiceEvents['finished'][0]) => io.to(RUNS_ROOM).emit('run:finished', run);
  runs.on('started', onStarted);
  runs.on('event', onEvent);
  runs.on('finished', onFinished);

  io.on('connection', (socket) => {
    const deps = { gate, log };
    onRequest(socket, deps, 'runs:watch', WatchRuns, { access: 'anyone' }, async () => {
      await socket.join(RUNS_ROOM);
      return runs.latestRuns();
    });
    onRequest(socket, deps, 'run:start', StartRunSocketRequest, { access: ({ scenario }) => panelOfScenario(scenario) }, ({ scenario, ...options }, viewer) =>
      gate.isPresenter(viewer)
        ? runs.start(scenario, options)
        : runs.start(scenario, audienceRunRequest(deck, scenario, options), { presenter: false, session: viewer.limitKey }),
    );
  });

  return {
    destroy() {
      runs.off('started', onStarted);
      runs.off('event', onEvent);
      runs.off('finished', onFinished);
    },
  };
}
