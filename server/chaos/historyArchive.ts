/**
 * A finished round's histories as they are downloaded: JSON serialized once and
 * gzipped, the whole round and each variant alone. A full round is tens of
 * megabytes of JSON; serializing it per download cost the event loop hundreds of
 * milliseconds each time. The round's checker thread builds the archive when the
 * round ends (server/chaos/checkWorker.ts), Redis keeps it beside the summary, and
 * a download only writes bytes that already exist (server/chaos/chaosRoutes.ts).
 */
import { gzipSync } from 'node:zlib';
import type { Redis } from 'ioredis';
import type { PoolHistory } from '../checker/history.ts';
import { CHAOS_VARIANTS, type ChaosVariant } from '../protocol.ts';

/** Which part of the archive: every variant's history (a JSON array), or one variant's. */
export type ArchivePart = 'all' | ChaosVariant;

export type HistoryArchive = Record<ArchivePart, Buffer>;

/** Serializes and compresses: a blocking call, for a thread whose loop serves no one (or a fallback). */
export function buildArchive(histories: readonly PoolHistory[]): HistoryArchive {
  const texts = histories.map((history) => JSON.stringify(history));
  const archive = { all: gzipSync(`[${texts.join(',')}]`) } as HistoryArchive;
  histories.forEach((history, i) => (archive[history.release as ChaosVariant] = gzipSync(texts[i]!)));
  return archive;
}

/** The parts, as a thread posts them back (each its own transferable buffer). */
export function archiveFromParts(parts: Record<ArchivePart, Uint8Array>): HistoryArchive {
  const archive = {} as HistoryArchive;
  for (const part of ['all', ...CHAOS_VARIANTS] as const) {
    const bytes = parts[part];
    archive[part] = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }
  return archive;
}

/** Writes the archive to a hash (one field per part) that expires with the round's other records. */
export function storeArchive(tx: ReturnType<Redis['multi']>, key: string, archive: HistoryArchive, keepSeconds: number): void {
  tx.hset(key, archive).expire(key, keepSeconds);
}

/** One part of a stored archive, still gzipped; null when the round left none. */
export function readArchivePart(redis: Redis, key: string, part: ArchivePart): Promise<Buffer | null> {
  return redis.hgetBuffer(key, part);
}
