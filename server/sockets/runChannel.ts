/**
 * Scenario runs, live: viewers join the `runs` room, start runs under their rate
 * limit, and every run's timeline is streamed to everyone as it happens.
 */
import { z } from 'zod';
import { StartRunSocketRequest, type Ack, type RunRecord, type RunSummary } from '../protocol.ts';
import { ClientError, parseOrThrow, toApiError } from '../errors.ts';
import type { Logger } from '../log.ts';
import type { RateLimiter } from '../rateLimit.ts';
import type { RunService, RunServiceEvents } from '../scenarios/runService.ts';
import type { IoServer } from './poolChannel.ts';

const RUNS_ROOM = 'runs';
const WatchRuns = z.strictObject({});

export function createRunChannel(io: IoServer, runs: RunService, viewerLimiter: RateLimiter, log: Logger): { destroy(): void } {
  const onStarted = (run: RunServiceEvents['started'][0]) => io.to(RUNS_ROOM).emit('run:started', run);
  const onEvent = (update: RunServiceEvents['event'][0]) => io.to(RUNS_ROOM).emit('run:event', update);
  const onFinished = (run: RunServiceEvents['finished'][0]) => io.to(RUNS_ROOM).emit('run:finished', run);
  runs.on('started', onStarted);
  runs.on('event', onEvent);
  runs.on('finished', onFinished);

  io.on('connection', (socket) => {
    socket.on('runs:watch', async (request: unknown, ack: unknown) => {
      const reply = typeof ack === 'function' ? (ack as (r: Ack<RunRecord[]>) => void) : () => {};
      try {
        parseOrThrow(WatchRuns, request ?? {});
        await socket.join(RUNS_ROOM);
        reply({ ok: true, data: runs.latestRuns() });
      } catch (error) {
        reply({ ok: false, ...toApiError(error) });
      }
    });
    socket.on('run:start', (request: unknown, ack: unknown) => {
      const reply = typeof ack === 'function' ? (ack as (r: Ack<RunSummary>) => void) : () => {};
      try {
        if (!viewerLimiter.take(`socket:${socket.id}`)) throw new ClientError('rate_limited', 'too many actions: slow down');
        const { scenario, ...options } = parseOrThrow(StartRunSocketRequest, request ?? {});
        reply({ ok: true, data: runs.start(scenario, options) });
      } catch (error) {
        const apiError = toApiError(error);
        if (apiError.error === 'internal') log.error('run:start failed', { error: String(error) });
        reply({ ok: false, ...apiError });
      }
    });
  });

  return {
    destroy() {
      runs.off('started', onStarted);
      runs.off('event', onEvent);
      runs.off('finished', onFinished);
    },
  };
}
