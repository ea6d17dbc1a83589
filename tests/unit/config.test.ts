/**
 * Configuration parsing: defaults, coercion from strings, and a ConfigError that
 * names every bad variable.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ConfigError, loadConfig } from '../../server/config.ts';

test('defaults: port 3000 on loopback, a private Redis, pool of 4, a generated presenter secret', () => {
  const config = loadConfig({}, []);
  assert.equal(config.port, 3000);
  assert.equal(config.host, '127.0.0.1');
  assert.equal(config.redisUrl, undefined);
  assert.equal(config.poolSize, 4);
  assert.equal(config.busyTtlSeconds, 600);
  assert.equal(config.doubleReleaseWindowMs, 1000);
  assert.equal(config.viewerActionsPerSecond, 5);
  assert.equal(config.viewerActionBurst, 10);
  assert.equal(config.logLevel, 'info');
  assert.equal(config.dev, false);
  assert.equal(config.presenterSecretGenerated, true);
  assert.ok(config.presenterSecret.length >= 16);
  assert.notEqual(loadConfig({}, []).presenterSecret, config.presenterSecret, 'a new secret each start');
});

test('values are read from strings, and --dev from the arguments', () => {
  const config = loadConfig(
    {
      PORT: '0',
      HOST: '::1',
      REDIS_URL: 'redis://127.0.0.1:6390',
      POOL_SIZE: '8',
      BUSY_TTL_SECONDS: '30',
      DOUBLE_RELEASE_WINDOW_MS: '50',
      PRESENTER_SECRET: 'a-long-enough-secret',
      VIEWER_ACTIONS_PER_SECOND: '0.5',
      VIEWER_ACTION_BURST: '3',
      LOG_LEVEL: 'debug',
    },
    ['--dev'],
  );
  assert.equal(config.port, 0);
  assert.equal(config.host, '::1');
  assert.equal(config.redisUrl, 'redis://127.0.0.1:6390');
  assert.equal(config.poolSize, 8);
  assert.equal(config.busyTtlSeconds, 30);
  assert.equal(config.doubleReleaseWindowMs, 50);
  assert.equal(config.presenterSecret, 'a-long-enough-secret');
  assert.equal(config.presenterSecretGenerated, false);
  assert.equal(config.viewerActionsPerSecond, 0.5);
  assert.equal(config.viewerActionBurst, 3);
  assert.equal(config.logLevel, 'debug');
  assert.equal(config.dev, true);
});

test('variables it does not know are ignored (the environment is full of them)', () => {
  assert.equal(loadConfig({ PATH: '/usr/bin', HOME: '/root', npm_config_foo: 'x' }, []).port, 3000);
});

const BAD: [string, Record<string, string>][] = [
  ['PORT', { PORT: 'abc' }],
  ['PORT', { PORT: '70000' }],
  ['PORT', { PORT: '80.5' }],
  ['REDIS_URL', { REDIS_URL: 'not a url' }],
  ['POOL_SIZE', { POOL_SIZE: '0' }],
  ['POOL_SIZE', { POOL_SIZE: '65' }],
  ['BUSY_TTL_SECONDS', { BUSY_TTL_SECONDS: '0' }],
  ['BUSY_TTL_SECONDS', { BUSY_TTL_SECONDS: 'ten' }],
  ['DOUBLE_RELEASE_WINDOW_MS', { DOUBLE_RELEASE_WINDOW_MS: '-1' }],
  ['PRESENTER_SECRET', { PRESENTER_SECRET: 'short' }],
  ['PRESENTER_SECRET', { PRESENTER_SECRET: '15-characters!!' }],
  ['VIEWER_ACTIONS_PER_SECOND', { VIEWER_ACTIONS_PER_SECOND: '0' }],
  ['VIEWER_ACTION_BURST', { VIEWER_ACTION_BURST: '1.5' }],
  ['LOG_LEVEL', { LOG_LEVEL: 'verbose' }],
];

for (const [name, env] of BAD) {
  test(`bad ${name}=${Object.values(env)[0]}: ConfigError naming it`, () => {
    assert.throws(
      () => loadConfig(env, []),
      (error: unknown) => {
        assert.ok(error instanceof ConfigError);
        assert.equal(error.name, 'ConfigError');
        assert.match(error.message, /^Bad configuration: /);
        assert.match(error.message, new RegExp(`\\b${name}: `));
        return true;
      },
    );
  });
}

test('every bad variable is named in one message', () => {
  assert.throws(() => loadConfig({ PORT: 'x', POOL_SIZE: '0', LOG_LEVEL: 'loud' }, []), (error: unknown) => {
    assert.ok(error instanceof ConfigError);
    for (const name of ['PORT', 'POOL_SIZE', 'LOG_LEVEL']) assert.match(error.message, new RegExp(`${name}: `));
    assert.equal(error.message.split('; ').length, 3);
    return true;
  });
});

test('a presenter secret shorter than 16 characters is refused with what it takes; the generated one is long enough', () => {
  assert.throws(() => loadConfig({ PRESENTER_SECRET: 'eleven-char' }, []), /PRESENTER_SECRET: at least 16 characters/);
  assert.equal(loadConfig({ PRESENTER_SECRET: 'sixteen-chars-ok' }, []).presenterSecret, 'sixteen-chars-ok');
  const generated = loadConfig({}, []);
  assert.ok(generated.presenterSecretGenerated);
  assert.ok(generated.presenterSecret.length >= 16, generated.presenterSecret);
});
