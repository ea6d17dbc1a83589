/**
 * The server's side of python/idem_celery/driver.py: one Python process that
 * sends evals with apply_async(link=..., link_error=...) and streams back, as JSON
 * lines, every step the tasks report and the eval's state in Celery's backend.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { EventEmitter } from 'node:events';
import { createInterface } from 'node:readline';
import type { Logger } from '../../log.ts';
import { PYTHON_DIR, pythonEnv, pythonExecutable, type PythonSettings } from './python.ts';

/** A step as a task reported it (python/idem_celery/events.py). */
export interface ReportedStep {
  run: string;
  kind: string;
  text: string;
  lane: string;
  pid: number | null;
  at: number;
  data?: Record<string, unknown>;
}

export type DriverMessage =
  | { type: 'ready' }
  | { type: 'sent'; run: string; taskId: string; task: string }
  | { type: 'message'; run: string; taskId: string; protocol: 1 | 2; links: number; errbacks: number; chained: number }
  | { type: 'awaited'; run: string; taskId: string; subscribers: number; state: string }
  | { type: 'got'; run: string; taskId: string; state: string; ms: number; seen: string[] }
  | { type: 'event'; event: ReportedStep }
  | { type: 'status'; run: string; state: string; pending: number }
  | { type: 'error'; run: string | null; message: string };

export interface DriverPayload {
  evalId: string;
  pool: string;
  executor: string;
  release: 'lua' | 'naive';
  fault: string;
  callbacks: { link: boolean; linkError: boolean };
  /** The pool keys, as server/pool/keys.ts names them: Python never builds a key itself. */
  keys: { busy: string; available: string; releaseTimes: string };
  slowSeconds?: number;
}

/** Where the driver sends evals and reads their state. */
export type DriverSettings = Pick<PythonSettings, 'redisUrl' | 'limitedBackendUrl'>;

export class CeleryDriver extends EventEmitter<{ message: [DriverMessage]; exit: [code: number | null] }> {
  private child: ChildProcess | null = null;

  constructor(
    private settings: DriverSettings,
    private readonly log: Logger,
  ) {
    super();
  }

  /** The Redis it connects to from its next start on (a restarted private Redis has a new password). */
  configure(settings: Partial<DriverSettings>): void {
    this.settings = { ...this.settings, ...settings };
  }

  async start(timeoutMs: number): Promise<void> {
    const child = spawn(pythonExecutable(), ['-m', 'idem_celery.driver'], {
      cwd: PYTHON_DIR,
      env: pythonEnv({ ...this.settings, visibilityTimeoutSeconds: 1, deduplicate: false, lane: 'driver' }),
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    this.child = child;
    // What Python said last, for the error a driver that dies at start is reported with.
    const lastWords: string[] = [];
    const ready = new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`celery driver not ready after ${timeoutMs} ms`)), timeoutMs);
      child.once('exit', (code) => {
        clearTimeout(timer);
        // stderr may still hold its last lines when the process is gone: read them first.
        setImmediate(() => reject(new Error(`celery driver exited (code ${code}) before it was ready${lastWords.length ? `: ${lastWords.join(' | ')}` : ''}`)));
      });
      this.once('message', () => {
        clearTimeout(timer);
        resolve();
      });
    });
    createInterface({ input: child.stdout! }).on('line', (line) => {
      let message: DriverMessage;
      try {
        message = JSON.parse(line) as DriverMessage;
      } catch {
        this.log.debug('celery driver', { line });
        return;
      }
      this.emit('message', message);
    });
    createInterface({ input: child.stderr! }).on('line', (line) => {
      if (!line.trim()) return;
      this.log.warn('celery driver stderr', { line });
      lastWords.push(line.trim().slice(0, 300));
      if (lastWords.length > 3) lastWords.shift();
    });
    child.on('error', (error) => this.log.warn('celery driver process error', { error: error.message }));
    child.once('exit', (code) => {
      this.child = null;
      this.emit('exit', code);
    });
    await ready;
  }

  get pid(): number | null {
    return this.child?.pid ?? null;
  }

  get alive(): boolean {
    return this.child !== null;
  }

  send(command: { type: 'run'; run: string; taskId: string; payload: DriverPayload; timeLimit: number | null } | { type: 'forget'; run: string }): void {
    if (!this.child?.stdin?.writable) throw new Error('the celery driver is not running');
    this.child.stdin.write(`${JSON.stringify(command)}\n`);
  }

  async close(): Promise<void> {
    const child = this.child;
    if (!child) return;
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    child.stdin?.end();
    const timer = setTimeout(() => child.kill('SIGKILL'), 2000);
    await exited;
    clearTimeout(timer);
  }
}
