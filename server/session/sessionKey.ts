/**
 * The key viewer cookies are signed with, one for every instance on a Redis: the
 * first instance to start writes a random one (SET NX), every other reads it. It is
 * random, not derived from the presenter secret, so the signed value every visitor
 * holds says nothing about that secret.
 *
 * When Redis comes back empty, each instance writes back the key it holds (they all
 * hold the same one), so cookies issued before the restart stay valid; an instance
 * that finds another key there takes it.
 */
import { randomBytes } from 'node:crypto';
import type { Redis } from 'ioredis';

export const SESSION_KEY_KEY = 'idem:{hall}:session-key';

/** The key in Redis, written first with `candidate` when there is none. */
export async function sharedSessionKey(redis: Redis, candidate: Buffer = randomBytes(32)): Promise<Buffer> {
  await redis.set(SESSION_KEY_KEY, candidate.toString('base64'), 'NX');
  const stored = await redis.get(SESSION_KEY_KEY);
  const key = stored === null ? null : Buffer.from(stored, 'base64');
  if (!key || key.length !== 32) {
    // Not ours to trust (a value some other writer left): replaced by a fresh key.
    await redis.set(SESSION_KEY_KEY, candidate.toString('base64'));
    return candidate;
  }
  return key;
}
