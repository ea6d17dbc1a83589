/**
 * Keeps N real `celery worker` processes (prefork, one pool child each) alive, as
 * the BullMQ supervisor does for its workers: lanes `worker-1`, `worker-2`, ...;
 * a worker that dies is started again under its lane; close() stops them all.
 *
 * Each worker runs in a process group of its own, so "kill the whole worker"
 * kills its main process and its pool child at once, and nothing of it survives
 * the server: on the server's exit every group gets SIGKILL, and a worker whose
 * parent vanished (the server SIGKILLed) kills itself (python/idem_celery/app.py).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { EventEmitter } from 'node:events';
import { createInterface } from 'node:readline';
import type { Logger } from '../../log.ts';
import type { WorkerInfo } from '../types.ts';
import { PYTHON_DIR, pythonEnv, pythonExecutable } from './python.ts';

export interface CeleryWorkerSettings {
  redisUrl: string;
  visibilityTimeoutSeconds: number;
  deduplicate: boolean;
}

export interface CeleryWorkersEvents {
  exit: [lane: string, pid: number, code: number | null, signal: NodeJS.Signals | null];
  restarted: [lane: string, pid: number, previousPid: number];
  ready: [lane: string, pid: number];
  /** A line of a worker's log (Celery logs to stderr). */
  line: [lane: string, pid: number, line: string];
}

interface Slot {
  lane: string;
  child: ChildProcess | null;
  pid: number | null;
  ready: boolean;
  previousPid: number | null;
  failedStarts: number;
  restartTimer: NodeJS.Timeout | null;
}

export class CeleryWorkers extends EventEmitter<CeleryWorkersEvents> {
  private readonly slots: Slot[];
  private readonly waiters = new Set<() => void>();
  private closing = false;
  private readonly killAllOnExit = () => {
    for (const slot of this.slots) if (slot.pid) killGroup(slot.pid);
  };

  constructor(
    count: number,
    private settings: CeleryWorkerSettings,
    private readonly log: Logger,
  ) {
    super();
    this.slots = Array.from({ length: count }, (_, i) => ({
      lane: `worker-${i + 1}`,
      child: null,
      pid: null,
      ready: false,
      previousPid: null,
      failedStarts: 0,
      restartTimer: null,
    }));
  }

  get deduplicate(): boolean {
    return this.settings.deduplicate;
  }

  async start(timeoutMs: number): Promise<void> {
    process.on('exit', this.killAllOnExit);
    for (const slot of this.slots) this.spawn(slot);
    await this.readyWithin(timeoutMs);
  }

  allReady(): boolean {
    return this.slots.every((slot) => slot.ready);
  }

  whenAllReady(): Promise<void> {
    if (this.allReady()) return Promise.resolve();
    return new Promise((resolve) => {
      const check = () => {
        if (this.allReady() || this.closing) {
          this.waiters.delete(check);
          resolve();
        }
      };
      this.waiters.add(check);
    });
  }

  workers(): WorkerInfo[] {
    return this.slots.map((slot) => ({ lane: slot.lane, pid: slot.pid, ready: slot.ready }));
  }

  laneOf(pid: number): string | null {
    return this.slots.find((slot) => slot.pid === pid)?.lane ?? null;
  }

  /**
   * Worker settings such as worker_deduplicate_successful_tasks are read when a
   * worker starts: stop every worker (warm shutdown) and start them with the new ones.
   */
  async restartWith(settings: Partial<CeleryWorkerSettings>, timeoutMs: number): Promise<void> {
    this.settings = { ...this.settings, ...settings };
    await Promise.all(this.slots.map((slot) => this.stopSlot(slot, 3000)));
    for (const slot of this.slots) {
      slot.previousPid = null;
      this.spawn(slot);
    }
    await this.readyWithin(timeoutMs);
  }

  async close(graceMs = 3000): Promise<void> {
    if (this.closing) return;
    this.closing = true;
    for (const waiter of [...this.waiters]) waiter();
    await Promise.all(this.slots.map((slot) => this.stopSlot(slot, graceMs)));
    process.removeListener('exit', this.killAllOnExit);
  }

  private async readyWithin(timeoutMs: number): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    try {
      await Promise.race([
        this.whenAllReady(),
        new Promise<never>((_, reject) => {
          timer = setTimeout(() => reject(new Error(`celery workers not ready after ${timeoutMs} ms`)), timeoutMs);
        }),
      ]);
    } finally {
      clearTimeout(timer);
    }
  }

  /** SIGTERM (Celery's warm shutdown), SIGKILL to the whole group after `graceMs`. */
  private async stopSlot(slot: Slot, graceMs: number): Promise<void> {
    if (slot.restartTimer) clearTimeout(slot.restartTimer);
    slot.restartTimer = null;
    const child = slot.child;
    slot.ready = false;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    (child as ChildProcess & { stopping?: boolean }).stopping = true;
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    child.kill('SIGTERM');
    const timer = setTimeout(() => killGroup(child.pid!), graceMs);
    await exited;
    clearTimeout(timer);
    killGroup(child.pid!); // a pool child left behind
  }

  private spawn(slot: Slot): void {
    slot.restartTimer = null;
    if (this.closing) return;
    const child = spawn(
      pythonExecutable(),
      [
        '-m', 'celery', '-A', 'idem_celery.app', 'worker',
        '--pool', 'prefork', '--concurrency', '1',
        '--hostname', `${slot.lane}@idem`,
        '--without-gossip', '--without-mingle', '--without-heartbeat',
        '--loglevel', 'INFO',
      ],
      {
        cwd: PYTHON_DIR,
        env: pythonEnv({ ...this.settings, lane: slot.lane }),
        stdio: ['ignore', 'pipe', 'pipe'],
        detached: true, // a process group of its own: the whole worker can be killed at once
      },
    );
    slot.child = child;
    slot.ready = false;
    const pid = child.pid ?? -1;
    slot.pid = child.pid ?? null;
    const log = this.log.child({ lane: slot.lane, pid });
    createInterface({ input: child.stdout! }).on('line', (line) => {
      if (!line.startsWith('{"ready"')) return log.debug(line);
      slot.ready = true;
      slot.failedStarts = 0;
      log.info('celery worker ready', { deduplicate: this.settings.deduplicate });
      if (slot.previousPid !== null) this.emit('restarted', slot.lane, pid, slot.previousPid);
      this.emit('ready', slot.lane, pid);
      for (const waiter of [...this.waiters]) waiter();
    });
    createInterface({ input: child.stderr! }).on('line', (line) => {
      if (!line.trim()) return;
      log.debug(line);
      this.emit('line', slot.lane, pid, line);
    });
    child.on('error', (error) => log.warn('celery worker process error', { error: error.message }));
    child.once('exit', (code, signal) => {
      const wasReady = slot.ready;
      if (slot.child === child) {
        slot.child = null;
        slot.ready = false;
        slot.previousPid = pid;
      }
      this.emit('exit', slot.lane, pid, code, signal);
      if (this.closing || (child as ChildProcess & { stopping?: boolean }).stopping) return;
      log.warn('celery worker died; restarting it', { code, signal });
      slot.failedStarts = wasReady ? 0 : slot.failedStarts + 1;
      // kombu restores unacknowledged messages when a worker starts (on_poll_init), and only those
      // older than the visibility timeout; after that, every 10th 10-second tick. A worker back sooner
      // would leave the dead one's message unacknowledged for a minute and more: wait it out first.
      const settle = this.settings.visibilityTimeoutSeconds * 1000 + 300;
      const delay = slot.failedStarts === 0 ? settle : Math.min(10_000, settle + 250 * 2 ** slot.failedStarts);
      slot.restartTimer = setTimeout(() => this.spawn(slot), delay);
    });
  }
}

function killGroup(pid: number): void {
  try {
    process.kill(-pid, 'SIGKILL');
  } catch {
    // already gone
  }
}
