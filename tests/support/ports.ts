/**
 * Ports for programs that must be told theirs (nginx, a redis-server started by hand):
 * test files run side by side, so never a fixed port. Servers of our own listen on
 * port 0 instead (startSite, the static server, vite preview).
 */
import { freePort } from '../../server/redis/privateRedis.ts';

/**
 * Starts something on a free port; when it fails (another process took that port between
 * the probe and the bind), tries again on another one, `attempts` times in all.
 */
export async function onFreePort<T>(start: (port: number) => Promise<T>, attempts = 3): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await start(await freePort());
    } catch (error) {
      if (attempt >= attempts) throw error;
    }
  }
}
