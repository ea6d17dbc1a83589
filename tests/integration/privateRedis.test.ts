/**
 * The private redis-server the site (and every test) starts when REDIS_URL is not
 * set: a free loopback port, nothing written to disk, really gone after stop(),
 * and gone too when its owner dies without cleaning up (SIGKILL).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { connect as connectTcp } from 'node:net';
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { RedisNotInstalledError, startPrivateRedis } from '../../server/redis/privateRedis.ts';
import { connectRedis, isPortOpen, pollUntil } from '../support/redis.ts';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const MODULE = pathToFileURL(`${ROOT}server/redis/privateRedis.ts`).href;

test('starts on a free loopback port with persistence off, and stop() really stops it', async () => {
  const [first, second] = await Promise.all([startPrivateRedis(), startPrivateRedis()]);
  try {
    assert.notEqual(first.port, second.port);
    assert.equal(first.url, `redis://:${first.password}@127.0.0.1:${first.port}`);
    assert.notEqual(first.password, second.password, 'each has a random password of its own');
    assert.ok(first.password.length >= 20);
    const redis = await connectRedis(first.url);
    try {
      // Without the password: refused (Redis' own NOAUTH), loopback only.
      const stranger = await new Promise<string>((resolve, reject) => {
        const socket = connectTcp(first.port, '127.0.0.1', () => socket.write('GET k\r\n'));
        socket.once('data', (data) => {
          socket.destroy();
          resolve(data.toString());
        });
        socket.once('error', reject);
      });
      assert.match(stranger, /^-NOAUTH/);
      assert.equal((await redis.info('server')).match(/process_id:(\d+)/)?.[1], String(first.pid), 'pid is the redis-server process');
      assert.deepEqual(await redis.config('GET', 'save'), ['save', '']);
      assert.deepEqual(await redis.config('GET', 'appendonly'), ['appendonly', 'no']);
      assert.deepEqual(await redis.config('GET', 'bind'), ['bind', '127.0.0.1']);
      assert.deepEqual(await redis.config('GET', 'protected-mode'), ['protected-mode', 'yes']);
      const [, dir] = (await redis.config('GET', 'dir')) as [string, string];
      assert.ok(existsSync(dir), `its own temporary dir: ${dir}`);
      assert.equal(await redis.set('k', 'v'), 'OK');
      await redis.quit();

      await first.stop();
      assert.equal(await isPortOpen(first.port), false, 'nothing listens on the port after stop()');
      assert.equal(existsSync(dir), false, 'and its dir is gone');
      assert.equal(await isPortOpen(second.port), true, 'the other one is untouched');
    } finally {
      redis.disconnect();
    }
  } finally {
    await first.stop();
    await second.stop();
  }
  assert.equal(await isPortOpen(second.port), false);
});

test('extra arguments reach redis-server; a bad one fails the start with what Redis said', async () => {
  const redisServer = await startPrivateRedis({ extraArgs: ['--maxmemory', '10mb'] });
  try {
    const redis = await connectRedis(redisServer.url);
    assert.deepEqual(await redis.config('GET', 'maxmemory'), ['maxmemory', String(10 * 1024 * 1024)]);
    await redis.quit();
  } finally {
    await redisServer.stop();
  }
  await assert.rejects(startPrivateRedis({ extraArgs: ['--no-such-option', 'x'] }), /redis-server did not start on port \d+: it exited[\s\S]*no-such-option/i);
});

test('a missing binary: RedisNotInstalledError saying how to install Redis or where to point REDIS_URL', async () => {
  await assert.rejects(startPrivateRedis({ binary: 'redis-server-does-not-exist' }), (error: unknown) => {
    assert.ok(error instanceof RedisNotInstalledError);
    assert.equal(error.name, 'RedisNotInstalledError');
    assert.match(error.message, /redis-server/);
    assert.match(error.message, /apt-get install redis-server/);
    assert.match(error.message, /brew install redis/);
    assert.match(error.message, /REDIS_URL=redis:\/\//);
    return true;
  });
});

/** A node process that starts a private Redis, prints its port, then does what `then` says. */
function childWithRedis(then: 'wait' | 'exit'): { port: Promise<number>; child: ReturnType<typeof spawn> } {
  const code =
    `const { startPrivateRedis } = await import(${JSON.stringify(MODULE)});` +
    `const r = await startPrivateRedis(); process.stdout.write(r.port + '\\n');` +
    (then === 'wait' ? 'setInterval(() => {}, 60_000);' : 'process.exit(0);');
  const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', code], { cwd: ROOT, stdio: ['ignore', 'pipe', 'inherit'] });
  const port = new Promise<number>((resolve, reject) => {
    let out = '';
    child.stdout!.on('data', (chunk: Buffer) => {
      out += chunk.toString();
      const line = /^(\d+)\n/.exec(out);
      if (line) resolve(Number(line[1]));
    });
    child.once('exit', (code, signal) => reject(new Error(`child exited (${code ?? signal}) before printing a port: ${out}`)));
  });
  return { port, child };
}

test('the watchdog: when the owner is SIGKILLed, its redis-server goes too', async () => {
  const { port: portPrinted, child } = childWithRedis('wait');
  try {
    const port = await portPrinted;
    assert.equal(await isPortOpen(port), true, 'the child has a Redis');
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill('SIGKILL');
    await exited;
    // An external process going away sends no event: poll the port. The deadline is wider than
    // the bound, so that a watchdog too slow fails the assertion (with its time), not the wait.
    const tookMs = await pollUntil(async () => !(await isPortOpen(port)), 15_000, `redis-server on ${port} to go`);
    assert.ok(tookMs < 5_000, `redis-server went ${tookMs} ms after its owner was killed`);
  } finally {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  }
});

test('an owner that exits without calling stop() takes its redis-server along', async () => {
  const { port: portPrinted, child } = childWithRedis('exit');
  const exited = new Promise((resolve) => child.once('exit', resolve));
  const port = await portPrinted;
  await exited;
  await pollUntil(async () => !(await isPortOpen(port)), 5_000, `redis-server on ${port} to go`);
});
