/**
 * `npm start` / `npm run dev`: read the configuration, start the app, and shut it
 * down cleanly (private Redis and worker processes included) on Ctrl-C or SIGTERM.
 * `npm start` execs this process in place of its shell, so the signal a process
 * manager sends to npm reaches it.
 */
import { ConfigError, loadConfig } from './config.ts';
import { createApp, type App } from './app.ts';
import { withoutPasswords } from './log.ts';
import { RedisNotInstalledError } from './redis/privateRedis.ts';

/** Whatever still runs after this is cut: the children die with us (their exit hooks and watchdogs). */
const SHUTDOWN_DEADLINE_MS = 4500;

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
  app = await createApp(config);
  if (closingSince !== null) {
    close(app, 'signal during start-up', closingSince);
    return;
  }
  app.log.info('The Idempotency Challenge is live', {
    url: `${app.url}/`,
    pid: process.pid,
    redis: config.redisUrl ? 'REDIS_URL' : `private redis-server at ${withoutPasswords(app.redisUrl)}`,
    mode: config.dev ? 'dev (hot reload)' : 'built deck',
  });
  app.log.info('phones join here', { joinUrl: app.hall.join.url });
  // The presenter link on a line of its own: open it in the presenter's browser (it signs that browser
  // in with a cookie and takes the token out of the address bar). Printed, never logged as a field.
  const presenterLink = `${app.url}/presenter?token=${encodeURIComponent(config.presenterSecret)}`;
  process.stdout.write(`\nPresenter link (keep it to yourself${config.presenterSecretGenerated ? '; new each start, set PRESENTER_SECRET to keep one' : ''}):\n  ${presenterLink}\n\n`);
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
  if (error instanceof RedisNotInstalledError || error instanceof ConfigError) {
    process.stderr.write(`\n${error.message}\n\n`);
  } else {
    process.stderr.write(`\nThe server could not start: ${error instanceof Error ? error.stack : String(error)}\n\n`);
  }
  process.exit(1);
});
