/**
 * The supervision both worker runtimes share: N lanes (`worker-1`, `worker-2`, ...),
 * one process each; a process that dies is started again under its lane (backing
 * off while one cannot even start); close() stops them all, and every process is
 * killed when this one exits. What a process is, how it says it is ready, how it
 * is asked to stop and how it is killed is the subclass's part
 * (supervisor.ts: BullMQ worker processes; celery/celeryWorkers.ts: `celery worker`).
 */
import type { ChildProcess } from 'node:child_process';
import { EventEmitter } from 'node:events';
import type { Logger } from '../log.ts';
import type { WorkerInfo } from './types.ts';

export interface LaneEvents {
  exit: [lane: string, pid: number, code: number | null, signal: NodeJS.Signals | null];
  restarted: [lane: string, pid: number, previousPid: number];
  ready: [lane: string, pid: number];
}

export interface Slot {
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

export interface LaneNames {
  /** One process, in log lines: `worker process`. */
  one: string;
  /** All of them, in errors: `worker processes`. */
  all: string;
}

export abstract class LaneSupervisor<Extra extends { [K in keyof Extra]: unknown[] } = object> extends EventEmitter<
  LaneEvents & Extra
> {
  protected readonly slots: Slot[];
  private readonly waiters = new Set<() => void>();
  /** Children stopped on purpose: their exit is no death to restart after. */
  private readonly stopping = new WeakSet<ChildProcess>();
  private closing = false;
  private readonly killAllOnExit = () => {
    for (const slot of this.slots) this.killHard(slot);
  };

  constructor(
    count: number,
    protected readonly log: Logger,
    private readonly names: LaneNames,
    private readonly closeGraceMs: number,
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

  /** Starts one process for the lane, wires its output, and calls markReady() once it is ready. */
  protected abstract launch(slot: Slot): ChildProcess;
  /** Asks a live process to stop (it gets killHard() if it has not after the grace time). */
  protected abstract askToStop(child: ChildProcess): void;
  /** Kills the lane's process at once, and whatever of it may be left. */
  protected abstract killHard(slot: Slot): void;
  /** How long to wait before restarting a lane whose process died. */
  protected abstract restartDelayMs(failedStarts: number): number;

  /** Starts every process and resolves once all are ready, or rejects after `timeoutMs`. */
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

  async close(graceMs = this.closeGraceMs): Promise<void> {
    if (this.closing) return;
    this.closing = true;
    this.wakeWaiters();
    await Promise.all(this.slots.map((slot) => this.stopSlot(slot, graceMs)));
    process.removeListener('exit', this.killAllOnExit);
  }

  protected async readyWithin(timeoutMs: number): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    try {
      await Promise.race([
        this.whenAllReady(),
        new Promise<never>((_, reject) => {
          timer = setTimeout(() => reject(new Error(`${this.names.all} not ready after ${timeoutMs} ms`)), timeoutMs);
        }),
      ]);
    } finally {
      clearTimeout(timer);
    }
  }

  /** The lane's process said it is ready. */
  protected markReady(slot: Slot, pid: number): void {
    slot.ready = true;
    slot.failedStarts = 0;
    if (slot.previousPid !== null) this.emitLane('restarted', slot.lane, pid, slot.previousPid);
    this.emitLane('ready', slot.lane, pid);
    this.wakeWaiters();
  }

  /** Asks the lane's process to stop, kills it after `graceMs`; it is not restarted. */
  protected async stopSlot(slot: Slot, graceMs: number): Promise<void> {
    if (slot.restartTimer) clearTimeout(slot.restartTimer);
    slot.restartTimer = null;
    const child = slot.child;
    slot.ready = false;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    this.stopping.add(child);
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    this.askToStop(child);
    const timer = setTimeout(() => this.killHard(slot), graceMs);
    await exited;
    clearTimeout(timer);
    this.killHard(slot); // anything of it left behind
  }

  protected spawn(slot: Slot): void {
    slot.restartTimer = null;
    if (this.closing) return;
    const child = this.launch(slot);
    slot.child = child;
    slot.ready = false;
    const pid = child.pid ?? -1;
    slot.pid = child.pid ?? null;
    child.once('exit', (code, signal) => {
      const wasReady = slot.ready;
      if (slot.child === child) {
        slot.child = null;
        slot.ready = false;
        slot.previousPid = pid;
      }
      this.emitLane('exit', slot.lane, pid, code, signal);
      if (this.closing || this.stopping.has(child)) return;
      this.log.warn(`${this.names.one} died; restarting it`, { lane: slot.lane, pid, code, signal });
      slot.failedStarts = wasReady ? 0 : slot.failedStarts + 1;
      slot.restartTimer = setTimeout(() => this.spawn(slot), this.restartDelayMs(slot.failedStarts));
    });
  }

  private wakeWaiters(): void {
    for (const waiter of [...this.waiters]) waiter();
  }

  /** The lane events, typed for the subclass's events too. */
  private emitLane<K extends keyof LaneEvents>(event: K, ...args: LaneEvents[K]): void {
    (this as unknown as EventEmitter).emit(event, ...args);
  }
}
