/**
 * Keeps N worker processes alive: forks each one (`worker-1`, `worker-2`, ...)
 * with tsx, restarts one that dies under the same lane name, SIGKILLs on demand,
 * and takes every child down with it, on close() and when this process exits.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { EventEmitter } from 'node:events';
import { fileURLToPath } from 'node:url';
import type { Logger } from '../log.ts';
import type { ChildMessage, ParentMessage, WorkerConfig } from './ipc.ts';
import type { WorkerInfo } from './types.ts';

const WORKER_FILE = fileURLToPath(new URL('./workerProcess.ts', import.meta.url));

/** tsx's loader, resolved from here so a child starts whatever its working directory. */
function tsxImport(): string {
  try {
    return import.meta.resolve('tsx');
  } catch {
    return 'tsx';
  }
}

export interface SupervisorEvents {
  message: [lane: string, pid: number, message: ChildMessage];
  exit: [lane: string, pid: number, code: number | null, signal: NodeJS.Signals | null];
  restarted: [lane: string, pid: number, previousPid: number];
  ready: [lane: string, pid: number];
}

interface Slot {
  lane: string;
  child: ChildProcess | null;
  pid: number | null;
  ready: boolean;
  /** The pid this lane had before its latest restart. */
  previousPid: number | null;
  /** Consecutive deaths before becoming ready: backs restarts off when a worker cannot start. */
  failedStarts: number;
  restartTimer: NodeJS.Timeout | null;
}

export class Supervisor extends EventEmitter<SupervisorEvents> {
  private readonly slots: Slot[];
  private readonly waiters = new Set<() => void>();
  private closing = false;
  private readonly killAllOnExit = () => {
    for (const slot of this.slots) slot.child?.kill('SIGKILL');
  };

  constructor(
    count: number,
    private readonly config: (lane: string) => WorkerConfig,
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

  /** Forks every worker and resolves once all are ready, or rejects after `timeoutMs`. */
  async start(timeoutMs: number): Promise<void> {
    process.on('exit', this.killAllOnExit);
    for (const slot of this.slots) this.spawn(slot);
    let timer: NodeJS.Timeout | undefined;
    try {
      await Promise.race([
        this.whenAllReady(),
        new Promise<never>((_, reject) => {
          timer = setTimeout(() => reject(new Error(`worker processes not ready after ${timeoutMs} ms`)), timeoutMs);
        }),
      ]);
    } finally {
      clearTimeout(timer);
    }
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

  /** SIGKILL: a real crash, no cleanup in the child. False when the lane has no live process. */
  kill(lane: string): boolean {
    const slot = this.slots.find((s) => s.lane === lane);
    if (!slot?.child || slot.child.exitCode !== null || slot.child.signalCode !== null) return false;
    // No longer fit for work from now on: whoever waits for all workers waits for its replacement.
    slot.ready = false;
    return slot.child.kill('SIGKILL');
  }

  async close(graceMs = 5000): Promise<void> {
    if (this.closing) return;
    this.closing = true;
    for (const waiter of [...this.waiters]) waiter();
    await Promise.all(
      this.slots.map(async (slot) => {
        if (slot.restartTimer) clearTimeout(slot.restartTimer);
        const child = slot.child;
        if (!child || child.exitCode !== null || child.signalCode !== null) return;
        const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
        if (child.connected) child.send({ type: 'shutdown' } satisfies ParentMessage, () => {});
        const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
        await exited;
        clearTimeout(timer);
      }),
    );
    process.removeListener('exit', this.killAllOnExit);
  }

  private spawn(slot: Slot): void {
    slot.restartTimer = null;
    if (this.closing) return;
    const child = fork(WORKER_FILE, [], {
      execArgv: ['--import', tsxImport()],
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
      serialization: 'json',
      // Out of the terminal's process group: Ctrl-C reaches the server, which stops its
      // workers itself, instead of killing them under it (and being restarted meanwhile).
      detached: true,
    });
    slot.child = child;
    slot.ready = false;
    const pid = child.pid ?? -1;
    slot.pid = child.pid ?? null;
    this.log.debug('worker process forked', { lane: slot.lane, pid });

    child.on('message', (message: ChildMessage) => {
      if (message.type === 'ready') {
        slot.ready = true;
        slot.failedStarts = 0;
        this.log.info('worker process ready', { lane: slot.lane, pid });
        if (slot.previousPid !== null) this.emit('restarted', slot.lane, pid, slot.previousPid);
        this.emit('ready', slot.lane, pid);
        for (const waiter of [...this.waiters]) waiter();
        return;
      }
      this.emit('message', slot.lane, pid, message);
    });
    child.on('error', (error) => this.log.warn('worker process error', { lane: slot.lane, pid, error: error.message }));
    child.once('exit', (code, signal) => {
      const wasReady = slot.ready;
      slot.child = null;
      slot.ready = false;
      slot.previousPid = pid;
      this.emit('exit', slot.lane, pid, code, signal);
      if (this.closing) return;
      this.log.warn('worker process died; restarting it', { lane: slot.lane, pid, code, signal });
      slot.failedStarts = wasReady ? 0 : slot.failedStarts + 1;
      const delay = slot.failedStarts === 0 ? 0 : Math.min(10_000, 250 * 2 ** slot.failedStarts);
      slot.restartTimer = setTimeout(() => this.spawn(slot), delay);
    });
    child.send({ type: 'start', config: this.config(slot.lane) } satisfies ParentMessage);
  }
}
