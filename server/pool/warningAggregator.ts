/**
 * One hostile client can make thousands of double releases a second; one log line
 * each would drown everything else. The first warning for a key (pool and
 * executor) is logged at once; the ones after it in the same window are counted
 * and logged as one line when the window closes: `repeated: N` within `windowMs`.
 */
import type { LogFields, Logger } from '../log.ts';

interface Window {
  msg: string;
  fields: LogFields;
  repeated: number;
  timer: NodeJS.Timeout;
}

export class WarningAggregator {
  private readonly windows = new Map<string, Window>();

  constructor(
    private readonly log: Logger,
    private readonly windowMs = 10_000,
  ) {}

  warn(key: string, msg: string, fields: LogFields): void {
    const open = this.windows.get(key);
    if (open) {
      open.repeated++;
      open.fields = fields;
      return;
    }
    this.log.warn(msg, fields);
    const timer = setTimeout(() => this.close(key), this.windowMs);
    timer.unref();
    this.windows.set(key, { msg, fields, repeated: 0, timer });
  }

  /** Logs every open window's count now (on shutdown, or in tests). */
  flush(): void {
    for (const key of [...this.windows.keys()]) this.close(key);
  }

  private close(key: string): void {
    const window = this.windows.get(key);
    if (!window) return;
    clearTimeout(window.timer);
    this.windows.delete(key);
    if (window.repeated > 0) this.log.warn(window.msg, { ...window.fields, repeated: window.repeated, windowMs: this.windowMs });
  }
}
