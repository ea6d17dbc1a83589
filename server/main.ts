/**
 * `npm start` / `npm run dev`: read the configuration, start the app, and shut it
 * down cleanly (private Redis included) on Ctrl-C or SIGTERM.
 */
import { ConfigError, loadConfig } from './config.ts';
import { createApp } from './app.ts';
import { RedisNotInstalledError } from './redis/privateRedis.ts';

async function main(): Promise<void> {
  const config = loadConfig();
  const app = await createApp(config);
  app.log.info('The Idempotency Challenge is live', {
    url: `${app.url}/`,
    redis: config.redisUrl ? 'REDIS_URL' : `private redis-server at ${app.redisUrl}`,
    mode: config.dev ? 'dev (hot reload)' : 'built deck',
  });
  app.log.info('phones join here', { joinUrl: app.hall.join.url });
  // The presenter link on a line of its own: open it in the presenter's browser (it signs that browser
  // in with a cookie and takes the token out of the address bar). Printed, never logged as a field.
  const presenterLink = `${app.url}/presenter?token=${encodeURIComponent(config.presenterSecret)}`;
  process.stdout.write(`\nPresenter link (keep it to yourself${config.presenterSecretGenerated ? '; new each start, set PRESENTER_SECRET to keep one' : ''}):\n  ${presenterLink}\n\n`);
  let closing = false;
  const shutdown = (signal: string) => {
    if (closing) return;
    closing = true;
    app.log.info('shutting down', { signal });
    app.close().then(
      () => process.exit(0),
      () => process.exit(1),
    );
  };
  process.on('SIGINT', () => shutdown('SIGINT'));
  process.on('SIGTERM', () => shutdown('SIGTERM'));
}

main().catch((error: unknown) => {
  if (error instanceof RedisNotInstalledError || error instanceof ConfigError) {
    process.stderr.write(`\n${error.message}\n\n`);
  } else {
    process.stderr.write(`\nThe server could not start: ${error instanceof Error ? error.stack : String(error)}\n\n`);
  }
  process.exit(1);
});
