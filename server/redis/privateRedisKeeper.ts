/**
 * Keeps the private redis-server alive: when it dies (a crash, an OOM kill, a
 * stray SIGKILL) a new one starts on the same port with a new password. Whoever
 * holds a connection learns the new password before the new server listens, so
 * its next reconnect attempt is the one that gets in.
 */
import type { Redis } from 'ioredis';
import type { Logger } from '../log.ts';
import { newRedisPassword, startPrivateRedis, type PrivateRedis } from './privateRedis.ts';

export interface PrivateRedisKeeper {
  /** The current server's url (its password changes with every restart). */
  readonly url: string;
  readonly current: PrivateRedis;
  /** Called with the new password before a replacement starts listening. */
  onNewPassword(listener: (password: string) => void): void;
  /** Called once a replacement answers. */
  onRestarted(listener: (redis: PrivateRedis) => void): void;
  stop(): Promise<void>;
}

export async function keepPrivateRedis(log: Logger, options: { retryMs?: number } = {}): Promise<PrivateRedisKeeper> {
  let current = await startPrivateRedis();
  let stopping = false;
  const passwordListeners: ((password: string) => void)[] = [];
  const restartListeners: ((redis: PrivateRedis) => void)[] = [];

  const restart = async (dead: PrivateRedis) => {
    log.error('the private redis-server died: restarting it on the same port with a new password', { port: dead.port, pid: dead.pid });
    for (let attempt = 1; !stopping; attempt++) {
      const password = newRedisPassword();
      for (const listener of passwordListeners) listener(password);
      try {
        const next = await startPrivateRedis({ port: dead.port, password });
        if (stopping) {
          await next.stop();
          return;
        }
        current = next;
        log.info('private redis-server restarted', { port: next.port, pid: next.pid, attempt });
        watch(next);
        for (const listener of restartListeners) listener(next);
        return;
      } catch (error) {
        log.warn('could not restart the private redis-server yet', { port: dead.port, attempt, error: String(error) });
        await new Promise((resolve) => setTimeout(resolve, Math.min(2000, (options.retryMs ?? 200) * attempt)));
      }
    }
  };
  const watch = (redis: PrivateRedis) => {
    void redis.exited.then(() => {
      if (!stopping && redis === current) void restart(redis);
    });
  };
  watch(current);

  return {
    get url() {
      return current.url;
    },
    get current() {
      return current;
    },
    onNewPassword: (listener) => void passwordListeners.push(listener),
    onRestarted: (listener) => void restartListeners.push(listener),
    async stop() {
      stopping = true;
      await current.stop();
    },
  };
}

/**
 * Keeps `redis` and every connection duplicated from it (subscribers, the socket.io
 * adapter's) on the keeper's current password, so each reconnects to a restarted
 * Redis by itself. Duplicates made later are followed too.
 */
export function followPassword(keeper: PrivateRedisKeeper, redis: Redis): void {
  const connections = new Set<Redis>([redis]);
  const duplicate = redis.duplicate.bind(redis);
  redis.duplicate = (...args: Parameters<Redis['duplicate']>) => {
    const copy = duplicate(...args);
    connections.add(copy);
    copy.once('end', () => connections.delete(copy));
    return copy;
  };
  keeper.onNewPassword((password) => {
    for (const connection of connections) connection.options.password = password;
  });
}
