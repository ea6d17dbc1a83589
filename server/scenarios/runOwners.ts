/**
 * Runs whose instance died. Each instance says it is alive (a key with a short TTL,
 * set again every second), and the store names it as the owner of every run it has
 * queued or playing (hash `idem:{runs}:owners`, written with the record itself). A
 * run's owner is the only one who ever ends it, so when an instance is killed
 * (`kill -9`, a crash, a lost machine), its runs would say "running" for ever. Every
 * instance sweeps the hash: a run whose owner's key has expired is claimed by the
 * first instance whose HDEL removes it (HDEL answers 1 to one caller only), which
 * marks it failed, saying why, and tells the viewers. Keys share the tag `{runs}`.
 */
import type { Redis } from 'ioredis';
import type { Logger } from '../log.ts';

export const OWNERS_KEY = 'idem:{runs}:owners';
export const aliveKey = (instance: string): string => `idem:{runs}:alive:${instance}`;

const BEAT_MS = 1000;
/** Five missed beats: an instance whose event loop is slow on a busy machine is not taken for dead. */
export const ALIVE_TTL_MS = 5000;
const SWEEP_MS = 1000;

export interface RunOwnersOptions {
  redis: Redis;
  /** This instance's id, as the store writes it into the owners hash. */
  instance: string;
  /** A run of a dead instance, claimed by this one: mark it failed. */
  onOrphan(runId: string, deadInstance: string): Promise<void>;
  log: Logger;
}

export async function watchRunOwners({ redis, instance, onOrphan, log }: RunOwnersOptions): Promise<{ stop(): Promise<void> }> {
  const beat = () => redis.set(aliveKey(instance), '1', 'PX', ALIVE_TTL_MS).then(() => {}, () => {});
  // Redis away: nothing to sweep, and nothing this sweep could write; the next one tries again.
  const sweep = async () => {
    const owners = await redis.hgetall(OWNERS_KEY);
    const others = [...new Set(Object.values(owners))].filter((owner) => owner !== instance);
    if (others.length === 0) return;
    const alive = await redis.mget(others.map(aliveKey));
    const dead = new Set(others.filter((_, i) => alive[i] === null));
    for (const [runId, owner] of Object.entries(owners)) {
      if (!dead.has(owner)) continue;
      if ((await redis.hdel(OWNERS_KEY, runId)) !== 1) continue; // another instance claimed it
      log.warn('a run of an instance that stopped answering: failing it', { runId, instance: owner });
      await onOrphan(runId, owner);
    }
  };
  await beat();
  // One sweep at a time: a slow one is not piled on.
  let sweeping: Promise<void> | null = null;
  const beatTimer = setInterval(() => void beat(), BEAT_MS);
  const sweepTimer = setInterval(() => {
    sweeping ??= sweep()
      .catch((error: unknown) => log.debug('run owners sweep skipped', { error: String(error) }))
      .finally(() => (sweeping = null));
  }, SWEEP_MS);
  return {
    async stop() {
      clearInterval(beatTimer);
      clearInterval(sweepTimer);
      await sweeping;
      // Stopping on purpose: its runs were ended by its own shutdown.
      await redis.del(aliveKey(instance)).catch(() => {});
    },
  };
}
