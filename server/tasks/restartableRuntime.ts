/**
 * The eval runtime, replaceable while the server runs: after Redis restarts with
 * a new password, every BullMQ connection (here and in the worker processes) is
 * useless, so the runtime is closed and started again on the new url. A run that
 * asks meanwhile waits for the new one.
 */
import type { EvalRunRequest, EvalRunResult, EvalRuntime } from './evalRuntime.ts';

/** Closing a runtime whose Redis is gone must not hold recovery up for long. */
const CLOSE_GRACE_MS = 6000;

export interface RestartableRuntime {
  run(request: EvalRunRequest): Promise<EvalRunResult>;
  restart(redisUrl: string): Promise<void>;
  close(): Promise<void>;
}

export async function startRestartableRuntime(
  start: (redisUrl: string) => Promise<EvalRuntime>,
  redisUrl: string,
): Promise<RestartableRuntime> {
  let current: Promise<EvalRuntime> = Promise.resolve(await start(redisUrl));
  let closed = false;
  const closeWithin = async (runtime: EvalRuntime) => {
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([runtime.close(), new Promise((resolve) => (timer = setTimeout(resolve, CLOSE_GRACE_MS)))]);
    clearTimeout(timer);
  };
  return {
    async run(request) {
      return (await current).run(request);
    },
    async restart(url) {
      if (closed) return;
      const old = current;
      current = (async () => {
        const previous = await old.catch(() => null);
        if (previous) await closeWithin(previous);
        return start(url);
      })();
      await current;
    },
    async close() {
      closed = true;
      const runtime = await current.catch(() => null);
      if (runtime) await closeWithin(runtime);
    },
  };
}
