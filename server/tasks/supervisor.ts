/**
 * Keeps N BullMQ worker processes alive (laneSupervisor.ts): forks each one
 * (`worker-1`, `worker-2`, ...) with tsx, restarts one that dies at once under the
 * same lane name, SIGKILLs on demand, asks each to shut down on close().
 */
import { fork, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { Logger } from '../log.ts';
import type { ChildMessage, ParentMessage, WorkerConfig } from './ipc.ts';
import { LaneSupervisor, type Slot } from './laneSupervisor.ts';

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
}

export class Supervisor extends LaneSupervisor<SupervisorEvents> {
  constructor(
    count: number,
    private readonly config: (lane: string) => WorkerConfig,
    log: Logger,
  ) {
    super(count, log, { one: 'worker process', all: 'worker processes' }, 5000);
  }

  /** SIGKILL: a real crash, no cleanup in the child. False when the lane has no live process. */
  kill(lane: string): boolean {
    const slot = this.slots.find((s) => s.lane === lane);
    if (!slot?.child || slot.child.exitCode !== null || slot.child.signalCode !== null) return false;
    // No longer fit for work from now on: whoever waits for all workers waits for its replacement.
    slot.ready = false;
    return slot.child.kill('SIGKILL');
  }

  protected launch(slot: Slot): ChildProcess {
    const child = fork(WORKER_FILE, [], {
      execArgv: ['--import', tsxImport()],
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
      serialization: 'json',
      // Out of the terminal's process group: Ctrl-C reaches the server, which stops its
      // workers itself, instead of killing them under it (and being restarted meanwhile).
      detached: true,
    });
    const pid = child.pid ?? -1;
    this.log.debug('worker process forked', { lane: slot.lane, pid });
    child.on('message', (message: ChildMessage) => {
      if (message.type === 'ready') {
        this.log.info('worker process ready', { lane: slot.lane, pid });
        this.markReady(slot, pid);
        return;
      }
      this.emit('message', slot.lane, pid, message);
    });
    child.on('error', (error) => this.log.warn('worker process error', { lane: slot.lane, pid, error: error.message }));
    child.send({ type: 'start', config: this.config(slot.lane) } satisfies ParentMessage);
    return child;
  }

  protected askToStop(child: ChildProcess): void {
    if (child.connected) child.send({ type: 'shutdown' } satisfies ParentMessage, () => {});
  }

  protected killHard(slot: Slot): void {
    slot.child?.kill('SIGKILL');
  }

  protected restartDelayMs(failedStarts: number): number {
    return failedStarts === 0 ? 0 : Math.min(10_000, 250 * 2 ** failedStarts);
  }
}
