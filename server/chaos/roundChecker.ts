/**
 * A chaos round's side of its checker thread (server/chaos/checkWorker.ts): posts
 * each variant's new operations, asks for a check, and gets the figures back. One
 * check at a time; a check that does not come back in time is given up (the
 * figures stay as they were), so a slow checker never holds the round up.
 */
import { Worker } from 'node:worker_threads';
import type { PoolHistory } from '../checker/history.ts';
import type { ChaosVariant } from '../protocol.ts';
import type { CheckSummary } from './checkSummary.ts';
import type { FromCheckWorker, ToCheckWorker } from './checkWorker.ts';
import { archiveFromParts, type HistoryArchive } from './historyArchive.ts';

export class RoundChecker {
  private readonly worker: Worker;
  private readonly posted = new Map<ChaosVariant, number>();
  private nextId = 0;
  private failed = false;
  /** Each request's answer (null: the thread failed or took too long). */
  private readonly waiting = new Map<number, (message: FromCheckWorker | null) => void>();

  constructor(histories: Map<ChaosVariant, () => PoolHistory>) {
    // A thread does not inherit the TypeScript loader (`--import tsx`): it registers it, then loads the checker.
    const tsx = import.meta.resolve('tsx/esm/api');
    const entry = new URL('./checkWorker.ts', import.meta.url).href;
    this.worker = new Worker(`import(${JSON.stringify(tsx)}).then(({ register }) => { register(); return import(${JSON.stringify(entry)}); })`, { eval: true });
    this.worker.unref();
    this.worker.on('message', (message: FromCheckWorker) => {
      this.waiting.get(message.id)?.(message);
      this.waiting.delete(message.id);
    });
    this.worker.on('error', () => {
      this.failed = true;
      for (const resolve of this.waiting.values()) resolve(null);
      this.waiting.clear();
    });
    for (const [variant, history] of histories) {
      const { operations: _operations, ...meta } = history();
      this.send({ type: 'start', variant, history: meta });
      this.posted.set(variant, 0);
    }
  }

  /** Posts what each variant's recorder appended since the last call (the recorders only ever append). */
  post(operations: Map<ChaosVariant, PoolHistory['operations']>): void {
    for (const [variant, all] of operations) {
      const from = this.posted.get(variant) ?? 0;
      if (all.length > from) this.send({ type: 'operations', variant, operations: all.slice(from) });
      this.posted.set(variant, all.length);
    }
  }

  /** The checker's figures per variant: live (the gapless prefix) or final (everything); {} if none came within `timeoutMs`. */
  async check(final: boolean, timeoutMs: number): Promise<Partial<Record<ChaosVariant, CheckSummary>>> {
    const answer = await this.ask((id) => ({ type: 'check', id, final }), timeoutMs);
    return answer?.type === 'checked' ? answer.results : {};
  }

  /** The whole histories, serialized and gzipped on the thread (server/chaos/historyArchive.ts); null if none came within `timeoutMs`. */
  async archive(timeoutMs: number): Promise<HistoryArchive | null> {
    const answer = await this.ask((id) => ({ type: 'archive', id }), timeoutMs);
    return answer?.type === 'archived' ? archiveFromParts(answer.parts) : null;
  }

  private ask(message: (id: number) => ToCheckWorker, timeoutMs: number): Promise<FromCheckWorker | null> {
    const id = ++this.nextId;
    if (this.failed) return Promise.resolve(null);
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.waiting.delete(id);
        resolve(null);
      }, timeoutMs);
      timer.unref();
      this.waiting.set(id, (answer) => {
        clearTimeout(timer);
        resolve(answer);
      });
      this.send(message(id));
    });
  }

  async close(): Promise<void> {
    await this.worker.terminate();
  }

  private send(message: ToCheckWorker): void {
    this.worker.postMessage(message);
  }
}
