/**
 * `npm start` / `npm run dev`: read the configuration, start the app, and shut it
 * down cleanly (private Redis and worker processes included) on Ctrl-C or SIGTERM.
 * `npm start` execs its script (scripts/start.ts, which imports this one) in place
 * of its shell, so the signal a process manager sends to npm reaches it.
 *
 * What a person needs comes first on the terminal: the presenter link and the
 * address phones join at. The log lines of the start-up wait until those are
 * printed, then follow (all of them: nothing is dropped).
 */
import { ConfigError, loadConfig, type Config } from './config.ts';
import { createApp, type App } from './app.ts';
import { createLogger, withoutPasswords, type LogSink } from './log.ts';
import { RedisNotInstalledError } from './redis/privateRedis.ts';

/** Whatever still runs after this is cut: the children die with us (their exit hooks and watchdogs). */
const SHUTDOWN_DEADLINE_MS = 4500;

/** Log lines held back until `release()`, then written through as they come. */
function heldLines(write: LogSink): { sink: LogSink; release: () => void } {
  let held: string[] | null = [];
  return {
    sink: (line) => (held ? held.push(line) : write(line)),
    release: () => {
      for (const line of held ?? []) write(line);
      held = null;
    },
  };
}

const startupLog = heldLines((line) => process.stdout.write(line + '\n'));

async function main(): Promise<void> {
  // Listen before anything starts: a signal that came before the handlers would kill us
  // with no cleanup; one during start-up stops the app as soon as it is up.
  let app: App | null = null;
  let closingSince: number | null = null;
  const shutdown = (signal: string) => {
    if (closingSince !== null) {
      // Ctrl-C reaches us twice at once (from the terminal, and relayed by npm): only a later one means "now".
      if (Date.now() - closingSince < 1000) return;
      app?.log.warn('second signal: exiting now', { signal });
      process.exit(1);
    }
    closingSince = Date.now();
    if (!app) return; // start-up finishes, then closes
    close(app, signal, closingSince);
  };
  process.on('SIGINT', () => shutdown('SIGINT'));
  process.on('SIGTERM', () => shutdown('SIGTERM'));

  const config = loadConfig();
  app = await createApp(config, { log: createLogger({ level: config.logLevel, sink: startupLog.sink }) });
  if (closingSince !== null) {
    startupLog.release();
    close(app, 'signal during start-up', closingSince);
    return;
  }
  process.stdout.write(banner(app, config));
  startupLog.release();
  app.log.info('The Idempotency Challenge is live', {
    url: `${app.url}/`,
    pid: process.pid,
    redis: config.redisUrl ? 'REDIS_URL' : `private redis-server at ${withoutPasswords(app.redisUrl)}`,
    mode: config.dev ? 'dev (hot reload)' : 'built deck',
  });
  app.log.info('phones join here', { joinUrl: app.hall.join.url });
}

/**
 * The presenter link and the join address, for a person. The presenter link signs the browser that
 * opens it in with a cookie (and takes the token out of the address bar); it is printed, never logged.
 */
function banner(app: App, config: Config): string {
  const presenterLink = `${app.url}/presenter?token=${encodeURIComponent(config.presenterSecret)}`;
  const join = app.hall.join;
  return [
    '',
    `Presenter link (keep it to yourself${config.presenterSecretGenerated ? '; new each start, set PRESENTER_SECRET to keep one' : ''}):`,
    `  ${presenterLink}`,
    'Phones join at:',
    `  ${join.url}${join.loopback ? '  (only this machine can open it: start with HOST=0.0.0.0, or set PUBLIC_URL, for phones)' : ''}`,
    '',
    '',
  ].join('\n');
}

function close(app: App, signal: string, started: number): void {
  app.log.info('shutting down', { signal });
  setTimeout(() => {
    app.log.error('shutdown took too long: exiting anyway', { ms: Date.now() - started });
    process.exit(1);
  }, SHUTDOWN_DEADLINE_MS).unref();
  app.close().then(
    () => {
      app.log.info('stopped', { ms: Date.now() - started });
      process.exit(0);
    },
    (error: unknown) => {
      app.log.error('shutdown failed', { error: String(error) });
      process.exit(1);
    },
  );
}

main().catch((error: unknown) => {
  startupLog.release();
  if (error instanceof RedisNotInstalledError || error instanceof ConfigError) {
    process.stderr.write(`\n${error.message}\n\n`);
  } else {
    process.stderr.write(`\nThe server could not start: ${error instanceof Error ? error.stack : String(error)}\n\n`);
  }
  process.exit(1);
});
