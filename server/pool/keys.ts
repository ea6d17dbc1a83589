/**
 * Where a pool lives in Redis. Every key of pool P starts with `idem:{P}:`: the
 * pool's name is its own hash tag, so all of one pool's keys (and so all the keys
 * of any script run on it) hash to one cluster slot, while different pools spread
 * over the cluster's slots instead of piling into one.
 */
export const KEY_NAMESPACE = 'idem';

export interface PoolKeys {
  /** List of JSON entries {"url": ...}: the executors ready to be handed out. */
  available: string;
  /** List of urls: every executor of the pool, in display order. */
  members: string;
  /** Prefix of a busy marker; the marker of url U is `busyPrefix + U`. */
  busyPrefix: string;
  /** Prefix of the last two release times of an executor. */
  releaseTimesPrefix: string;
  /** Counter of fencing tokens: INCR'd by every allocation, never reset, so a token only grows. */
  tokenCounter: string;
}

/** `idem:{<pool>}:`, the start of every key of `pool`. */
export function poolKeyPrefix(pool: string): string {
  return `${KEY_NAMESPACE}:{${pool}}:`;
}

export function poolKeys(pool: string): PoolKeys {
  const base = poolKeyPrefix(pool);
  return {
    available: `${base}available`,
    members: `${base}members`,
    busyPrefix: `${base}busy:`,
    releaseTimesPrefix: `${base}released-at:`,
    tokenCounter: `${base}token`,
  };
}

/** The busy-marker key of one executor, or null when the key is not a busy marker. */
export function parseBusyKey(key: string): { pool: string; executor: string } | null {
  const match = /^idem:\{([a-z0-9][a-z0-9-]{0,31})\}:busy:(.+)$/.exec(key);
  return match ? { pool: match[1]!, executor: match[2]! } : null;
}
