/**
 * Structured logging: one JSON object per line, so a line like
 * `{"level":"warn","msg":"Double release detected",...}` can be grepped by a person
 * and parsed by a machine. Tests pass their own sink to capture what was logged.
 */
export type LogLevel = 'debug' | 'info' | 'warn' | 'error';
export type LogFields = Record<string, unknown>;
export type LogSink = (line: string) => void;

export interface Logger {
  debug(msg: string, fields?: LogFields): void;
  info(msg: string, fields?: LogFields): void;
  warn(msg: string, fields?: LogFields): void;
  error(msg: string, fields?: LogFields): void;
  /** A logger that adds `fields` to every line. */
  child(fields: LogFields): Logger;
}

const LEVELS: LogLevel[] = ['debug', 'info', 'warn', 'error'];

/** `scheme://user:password@` in a URL, wherever it appears in a line (an error's message too). */
const URL_PASSWORD = /([a-z][a-z0-9+.-]*:\/\/[^\s"'\/@:]*:)[^\s"'\/@]+@/gi;

/** The text with every URL's password replaced by `***`: no log line carries a credential. */
export function withoutPasswords(text: string): string {
  return text.replace(URL_PASSWORD, '$1***@');
}

export function createLogger(options: { sink?: LogSink; level?: LogLevel; fields?: LogFields } = {}): Logger {
  const sink = options.sink ?? ((line) => process.stdout.write(line + '\n'));
  const minimum = LEVELS.indexOf(options.level ?? 'info');
  const base = options.fields ?? {};
  const write = (level: LogLevel) => (msg: string, fields: LogFields = {}) => {
    if (LEVELS.indexOf(level) < minimum) return;
    sink(withoutPasswords(JSON.stringify({ time: new Date().toISOString(), level, msg, ...base, ...fields })));
  };
  return {
    debug: write('debug'),
    info: write('info'),
    warn: write('warn'),
    error: write('error'),
    child: (fields) => createLogger({ sink, level: options.level ?? 'info', fields: { ...base, ...fields } }),
  };
}

/** A logger whose lines are kept in memory, for tests and for the live log panel. */
export function createCapturingLogger(level: LogLevel = 'debug'): { logger: Logger; lines: string[] } {
  const lines: string[] = [];
  return { logger: createLogger({ sink: (line) => lines.push(line), level }), lines };
}
