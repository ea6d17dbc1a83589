/** What the cluster's child processes share: dying with the cluster, and being waited for over HTTP. */
import { spawn, type ChildProcess } from 'node:child_process';

/**
 * A watchdog shell that stops `pid` (SIGTERM, then SIGKILL) once this process is
 * gone, however it went (a SIGKILL leaves no exit hook to run). It exits with its
 * ward; `kill()` it when the ward was stopped the ordinary way.
 */
export function dieWithParent(pid: number): ChildProcess {
  // `sleep 1 & wait $!`: the trap runs at once on a signal, not after the sleep.
  const script =
    `trap 'exit 0' TERM INT; while kill -0 ${process.pid} 2>/dev/null && kill -0 ${pid} 2>/dev/null; do sleep 1 & wait $!; done; ` +
    `kill -TERM ${pid} 2>/dev/null; sleep 4; kill -KILL ${pid} 2>/dev/null; exit 0`;
  const watchdog = spawn('sh', ['-c', script], { stdio: 'ignore', detached: true });
  watchdog.unref();
  return watchdog;
}

/** Polls `url` until it answers (2xx, or any status with `anyStatus`); throws when `gaveUp()` or after `timeoutMs`. */
export async function waitForHttp(url: string, gaveUp: () => boolean, timeoutMs: number, options: { anyStatus?: boolean } = {}): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (gaveUp()) throw new Error('it exited');
    try {
      const response = await fetch(url, { signal: AbortSignal.timeout(1000) });
      await response.arrayBuffer();
      if (response.ok || options.anyStatus) return;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) throw new Error(`no answer at ${url} within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}
