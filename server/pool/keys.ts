/**
 * Where a pool lives in Redis. Every key starts with one prefix holding one hash
 * tag, `idem:{pool}:`, so all of a script's keys hash to one cluster slot and
 * never collide with anyone else's data in a shared Redis.
 */
export const KEY_PREFIX = 'idem:{pool}:';

export interface PoolKeys {
  /** List of JSON entries {"url": ...}: the executors ready to be handed out. */
  available: string;
  /** List of urls: every executor of the pool, in display order. */
  members: string;
  /** Prefix of a busy marker; the marker of url U is `busyPrefix + U`. */
  busyPrefix: string;
  /** Prefix of the last two release times of an executor. */
  releaseTimesPrefix: string;
}

export function poolKeys(pool: string): PoolKeys {
  const base = `${KEY_PREFIX}${pool}:`;
  return {
    available: `${base}available`,
    members: `${base}members`,
    busyPrefix: `${base}busy:`,
    releaseTimesPrefix: `${base}released-at:`,
  };
}

/** The busy-marker key of one executor, or null when the key is not a busy marker. */
export function parseBusyKey(key: string): { pool: string; executor: string } | null {
  if (!key.startsWith(KEY_PREFIX)) return null;
  const match = /^([a-z0-9-]+):busy:(.+)$/.exec(key.slice(KEY_PREFIX.length));
  return match ? { pool: match[1]!, executor: match[2]! } : null;
}
