/**
 * The history checker of a chaos round, on a thread of its own: re-reading a
 * round's whole history takes longer the longer the round runs (tens of
 * milliseconds per check once there are tens of thousands of operations), and
 * the server's event loop must keep answering the presenter and the hall
 * meanwhile. The round posts each variant's new operations as they come and asks
 * for a check; this thread keeps the histories and answers with the figures.
 */
import { parentPort } from 'node:worker_threads';
import { checkHistory } from '../checker/checker.ts';
import type { HistoryOperation, PoolHistory } from '../checker/history.ts';
import type { ChaosVariant } from '../protocol.ts';
import { summarizeCheck, type CheckSummary } from './checkSummary.ts';
import { buildArchive, type ArchivePart } from './historyArchive.ts';

export type ToCheckWorker =
  | { type: 'start'; variant: ChaosVariant; history: Omit<PoolHistory, 'operations'> }
  | { type: 'operations'; variant: ChaosVariant; operations: HistoryOperation[] }
  | { type: 'check'; id: number; final: boolean }
  | { type: 'archive'; id: number };
export type FromCheckWorker =
  | { type: 'checked'; id: number; results: Partial<Record<ChaosVariant, CheckSummary>> }
  | { type: 'archived'; id: number; parts: Record<ArchivePart, Uint8Array> };

/** Each variant's whole history, its operations in Redis' order: what the final check reads and the download holds. */
function wholeHistories(): PoolHistory[] {
  return [...histories.values()].map(({ history, operations }) => ({ ...history, operations: [...operations].sort((a, b) => a.seq - b.seq) }));
}

/** The operations Redis numbered 1..n without a gap: a history the checker can read while the round goes on. */
export function gaplessPrefix(operations: readonly HistoryOperation[]): HistoryOperation[] {
  const sorted = [...operations].sort((a, b) => a.seq - b.seq);
  let n = 0;
  while (n < sorted.length && sorted[n]!.seq === n + 1) n++;
  return sorted.slice(0, n);
}

const histories = new Map<ChaosVariant, { history: Omit<PoolHistory, 'operations'>; operations: HistoryOperation[] }>();

parentPort?.on('message', (message: ToCheckWorker) => {
  if (message.type === 'start') {
    histories.set(message.variant, { history: message.history, operations: [] });
  } else if (message.type === 'operations') {
    histories.get(message.variant)?.operations.push(...message.operations);
  } else if (message.type === 'archive') {
    // Serialized and compressed here, once: the server's loop never holds the round's tens of megabytes of JSON.
    const archive = buildArchive(wholeHistories());
    const parts = Object.fromEntries(Object.entries(archive).map(([part, bytes]) => [part, new Uint8Array(bytes)])) as Record<ArchivePart, Uint8Array>;
    parentPort!.postMessage({ type: 'archived', id: message.id, parts } satisfies FromCheckWorker, Object.values(parts).map((bytes) => bytes.buffer as ArrayBuffer));
  } else {
    const results: Partial<Record<ChaosVariant, CheckSummary>> = {};
    for (const [variant, { history, operations }] of histories) {
      const checked = { ...history, operations: message.final ? [...operations].sort((a, b) => a.seq - b.seq) : gaplessPrefix(operations) };
      results[variant] = summarizeCheck(checkHistory(checked));
    }
    parentPort!.postMessage({ type: 'checked', id: message.id, results } satisfies FromCheckWorker);
  }
});
