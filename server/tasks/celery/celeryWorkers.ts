/**
 * Keeps N real `celery worker` processes (prefork, one pool child each) alive, with
 * the supervision the BullMQ workers have (laneSupervisor.ts): lanes `worker-1`,
 * `worker-2`, ...; a worker that dies is started again under its lane, once kombu
 * would hand its message on; close() stops them all.
 *
 * Each worker runs in a process group of its own, so "kill the whole worker"
 * kills its main process and its pool child at once, and nothing of it survives
 * the server: on the server's exit every group gets SIGKILL, and a worker whose
 * parent vanished (the server SIGKILLed) kills itself (python/idem_celery/app.py).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import type { Logger } from '../../log.ts';
import { LaneSupervisor, type Slot } from '../laneSupervisor.ts';
import { PYTHON_DIR, pythonEnv, pythonExecutable } from './python.ts';

export interface CeleryWorkerSettings {
  redisUrl: string;
  limitedBackendUrl: string | null;
  visibilityTimeoutSeconds: number;
  deduplicate: boolean;
}

export interface CeleryWorkersEvents {
  /** A line of a worker's log (Celery logs to stderr). */
  line: [lane: string, pid: number, line: string];
}

export class CeleryWorkers extends LaneSupervisor<CeleryWorkersEvents> {
  constructor(
    count: number,
    private settings: CeleryWorkerSettings,
    log: Logger,
  ) {
    super(count, log, { one: 'celery worker', all: 'celery workers' }, 3000);
  }

  get deduplicate(): boolean {
    return this.settings.deduplicate;
  }

  /**
   * Worker settings such as worker_deduplicate_successful_tasks are read when a
   * worker starts: stop every worker (warm shutdown) and start them with the new ones.
   */
  async restartWith(settings: Partial<CeleryWorkerSettings>, timeoutMs: number): Promise<void> {
    this.configure(settings);
    await Promise.all(this.slots.map((slot) => this.stopSlot(slot, 3000)));
    for (const slot of this.slots) {
      slot.previousPid = null;
      this.spawn(slot);
    }
    await this.readyWithin(timeoutMs);
  }

  /**
   * Restarts one lane on purpose, as a deploy or a scale-up does to a worker: warm shutdown,
   * then a new `celery worker` under the same lane (its `restarted` event fires once it is ready).
   * Resolves once it is ready, or rejects after `timeoutMs`.
   */
  async restartLane(lane: string, timeoutMs: number): Promise<void> {
    const slot = this.slots.find((candidate) => candidate.lane === lane);
    if (!slot) throw new Error(`no celery worker lane ${lane}`);
    await this.stopSlot(slot, 3000);
    // restartWith() (a restarted Redis) may have started the lane meanwhile: one process per lane.
    if (!slot.child) this.spawn(slot);
    await this.readyWithin(timeoutMs);
  }

  /** Settings for the workers started from now on (a restarted private Redis has a new url). */
  configure(settings: Partial<CeleryWorkerSettings>): void {
    this.settings = { ...this.settings, ...settings };
  }

  protected launch(slot: Slot): ChildProcess {
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
    const pid = child.pid ?? -1;
    const log = this.log.child({ lane: slot.lane, pid });
    createInterface({ input: child.stdout! }).on('line', (line) => {
      if (!line.startsWith('{"ready"')) return log.debug(line);
      log.info('celery worker ready', { deduplicate: this.settings.deduplicate });
      this.markReady(slot, pid);
    });
    createInterface({ input: child.stderr! }).on('line', (line) => {
      if (!line.trim()) return;
      log.debug(line);
      this.emit('line', slot.lane, pid, line);
    });
    child.on('error', (error) => log.warn('celery worker process error', { error: error.message }));
    return child;
  }

  /** SIGTERM: Celery's warm shutdown. */
  protected askToStop(child: ChildProcess): void {
    child.kill('SIGTERM');
  }

  /** SIGKILL to the whole group: the main process and its pool child. */
  protected killHard(slot: Slot): void {
    if (slot.pid) killGroup(slot.pid);
  }

  // kombu restores unacknowledged messages when a worker starts (on_poll_init), and only those
  // older than the visibility timeout; after that, every 10th 10-second tick. A worker back sooner
  // would leave the dead one's message unacknowledged for a minute and more: wait it out first.
  protected restartDelayMs(failedStarts: number): number {
    const settle = this.settings.visibilityTimeoutSeconds * 1000 + 300;
    return failedStarts === 0 ? settle : Math.min(10_000, settle + 250 * 2 ** failedStarts);
  }
}

function killGroup(pid: number): void {
  try {
    process.kill(-pid, 'SIGKILL');
  } catch {
    // already gone
  }
}
