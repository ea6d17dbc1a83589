/**
 * BullMQ connection options from a redis:// url. BullMQ's workers block on
 * BZPOPMIN and need `maxRetriesPerRequest: null`; each Worker and Queue opens
 * (and closes) connections of its own from these options.
 */
import type { ConnectionOptions } from 'bullmq';

export function bullConnection(redisUrl: string): ConnectionOptions {
  const { protocol } = new URL(redisUrl);
  if (protocol !== 'redis:' && protocol !== 'rediss:') throw new Error(`not a redis url: ${redisUrl}`);
  return { url: redisUrl, maxRetriesPerRequest: null };
}
