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
  if (config.presenterSecretGenerated) {
    app.log.info('presenter secret generated for this run (set PRESENTER_SECRET to choose one)', { presenterSecret: config.presenterSecret });
  }
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
