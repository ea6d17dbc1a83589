/**
 * Each guard of the release, and the limits on viewers, caught at the HTTP and the
 * socket level (the script level is in pool.test, the browser in luaPanel.test):
 *  - the release's `wasBusy` guard: an executor whose busy marker expired is not
 *    pushed back by a late release (it is the reaper's, not the caller's);
 *  - the release's schema: bad input is refused in the schema's words, before
 *    any command reaches Redis;
 *  - the per-viewer rate limit on starting runs, over HTTP and over socket.io.
 */
import { after, before, beforeEach, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { io, type Socket } from 'socket.io-client';
import { ReleaseRequest, type Ack, type PoolAction, type PoolChange, type ReleaseReply } from '../../server/protocol.ts';
import { parseOrThrow } from '../../server/errors.ts';
import { poolKeys } from '../../server/pool/keys.ts';
import { api, GENEROUS_LIMITS, newViewerSession, openAllPanels, startSite, type Site } from '../support/site.ts';
import { poolState, redisCommandsDuring } from '../support/redis.ts';
import { withDeadline } from '../support/deadline.ts';

const ACK_TIMEOUT_MS = 10_000;

/** A socket of a new viewer session, as a phone that loaded the deck opens. */
async function connect(site: Site): Promise<Socket> {
  const cookie = await newViewerSession(site);
  const socket = io(site.url, { transports: ['websocket'], forceNew: true, reconnection: false, extraHeaders: { cookie } });
  await withDeadline(
    new Promise<void>((resolve, reject) => {
      socket.once('connect', () => resolve());
      socket.once('connect_error', reject);
    }),
    ACK_TIMEOUT_MS,
    'the socket to connect',
  );
  return socket;
}

async function send<T>(socket: Socket, event: string, payload: unknown): Promise<Ack<T>> {
  return (await socket.timeout(ACK_TIMEOUT_MS).emitWithAck(event, payload)) as Ack<T>;
}

function schemaSays(input: unknown): string {
  try {
    parseOrThrow(ReleaseRequest, input);
  } catch (error) {
    return (error as Error).message;
  }
  throw new Error(`the schema accepts ${JSON.stringify(input)}`);
}

let site: Site;
let viewer: Socket;

before(async () => {
  // No sweep: an executor whose marker is gone must stay lost until the test releases it,
  // and the schema tests count every command Redis runs.
  site = await startSite({ ...GENEROUS_LIMITS, REAPER_SWEEP_MS: '3600000' });
  openAllPanels(site);
  viewer = await connect(site);
});

after(async () => {
  viewer?.disconnect();
  await site?.close();
});

beforeEach(async () => {
  await site.actions.pools.reset('main');
});

/** Allocates an executor, then deletes its busy marker as its TTL running out would: neither busy nor available. */
async function expiredAllocation(evalId: string): Promise<string> {
  const { status, body } = await api<{ executor: string }>(site, 'POST', '/api/allocate', { evalId });
  assert.equal(status, 200);
  assert.equal(await site.redis.del(poolKeys('main').busyPrefix + body.executor), 1);
  return body.executor;
}

describe('the wasBusy guard: a late release of an executor whose marker expired adds nothing', () => {
  test('over HTTP: not_busy, [0, 0, "not_busy"], and the pool as it was', async () => {
    const executor = await expiredAllocation('eval-expired-http');
    const before = poolState(await site.actions.pools.snapshot('main'));
    const reply = await api<ReleaseReply>(site, 'POST', '/api/release', { executor });
    assert.equal(reply.status, 200);
    assert.equal(reply.body.status, 'not_busy');
    assert.deepEqual(reply.body.reply.slice(0, 3), [0, 0, 'not_busy']);
    assert.deepEqual(poolState(await site.actions.pools.snapshot('main')), before, 'nothing pushed');
    assert.ok(!before.available.includes(executor));
  });

  test('over socket.io: a release and a double release are all not_busy, and every viewer is told so', async () => {
    const executor = await expiredAllocation('eval-expired-socket');
    const watcher = await connect(site);
    try {
      assert.equal((await send(watcher, 'pool:watch', {})).ok, true);
      const before = poolState(await site.actions.pools.snapshot('main'));
      const seen = withDeadline(
        new Promise<PoolAction>((resolve) =>
          watcher.on('pool:changed', (change: PoolChange) => {
            const action = change.actions.find((a) => a.kind === 'released' && a.releases.length === 2);
            if (action) resolve(action);
          }),
        ),
        ACK_TIMEOUT_MS,
        'the double release to be broadcast',
      );
      const once = await send<ReleaseReply>(viewer, 'pool:release', { executor });
      assert.ok(once.ok);
      assert.equal(once.data.status, 'not_busy');
      const twice = await send<ReleaseReply[]>(viewer, 'pool:double-release', { executor });
      assert.ok(twice.ok);
      assert.deepEqual(twice.data.map((r) => [r.wasBusy, r.added, r.status]), [[0, 0, 'not_busy'], [0, 0, 'not_busy']]);
      const action = await seen;
      assert.ok(action.kind === 'released');
      assert.deepEqual(action.releases.map((r) => r.status), ['not_busy', 'not_busy']);
      assert.deepEqual(poolState(await site.actions.pools.snapshot('main')), before, 'nothing pushed');
    } finally {
      watcher.disconnect();
    }
  });

  test('the reaper, not a late release, brings it back: once, and the invariant holds', async () => {
    const executor = await expiredAllocation('eval-expired-reaper');
    await api(site, 'POST', '/api/release', { executor });
    assert.deepEqual(await site.actions.pools.reclaim('main', 'sweep'), [executor]);
    const snapshot = await site.actions.pools.snapshot('main');
    assert.equal(snapshot.available.filter((url) => url === executor).length, 1);
  });
});

describe('the release schema over socket.io: refused in its words, before Redis is asked', () => {
  const payloads: [string, unknown][] = [
    ['no fields', {}],
    ['missing executor', { pool: 'main' }],
    ['executor a number', { executor: 1 }],
    ['executor an array', { executor: ['executor-1'] }],
    ['executor an object', { executor: { url: 'executor-1' } }],
    ['extra field', { executor: 'executor-1', force: true }],
    ['executor with bad characters', { executor: 'executor-1; DEL *' }],
    ['executor with a newline', { executor: 'executor-1\r\nFLUSHALL' }],
    ['executor too long', { executor: 'e'.repeat(201) }],
    ['pool with bad characters', { executor: 'executor-1', pool: '../main' }],
    ['an array', [{ executor: 'executor-1' }]],
    ['a string', 'executor-1'],
  ];
  for (const event of ['pool:release', 'pool:double-release']) {
    for (const [name, payload] of payloads) {
      test(`${event}: ${name}`, async () => {
        await site.actions.pools.allocate('main', 'eval-holds-one');
        const before = poolState(await site.actions.pools.snapshot('main'));
        let ack: Ack<unknown> | undefined;
        const commands = await redisCommandsDuring(site.redis, async () => {
          ack = await send(viewer, event, payload);
        });
        assert.ok(ack && !ack.ok, `refused: ${JSON.stringify(ack)}`);
        assert.equal(ack.error, 'bad_request');
        assert.equal(ack.message, schemaSays(payload));
        assert.equal(commands.total, 0, `no command reached Redis: ${JSON.stringify(commands.by)}`);
        assert.deepEqual(poolState(await site.actions.pools.snapshot('main')), before);
      });
    }
  }
});

describe('the rate limit on starting runs', () => {
  let limited: Site;
  before(async () => {
    limited = await startSite({ VIEWER_ACTIONS_PER_SECOND: '0.1', VIEWER_ACTION_BURST: '2' });
    openAllPanels(limited);
  });
  after(async () => {
    await limited?.close();
  });

  test('over HTTP: the burst is started, the next run is 429 rate_limited and is not queued', async () => {
    for (let i = 0; i < 2; i++) {
      assert.equal((await api(limited, 'POST', '/api/scenarios/atomic-allocation/runs', {})).status, 202);
    }
    const latest = (await limited.runs.latestRuns()).map((run) => run.id);
    const refused = await api<{ error: string; message: string }>(limited, 'POST', '/api/scenarios/atomic-allocation/runs', {});
    assert.equal(refused.status, 429);
    assert.equal(refused.body.error, 'rate_limited');
    assert.match(refused.body.message, /slow down: wait a second/, 'the viewer limit, not a full stage');
    assert.deepEqual((await limited.runs.latestRuns()).map((run) => run.id), latest, 'no run was queued');
  });

  test('over socket.io: the burst is started, the next run:start is rate_limited, watching still answers', async () => {
    const socket = await connect(limited);
    try {
      for (let i = 0; i < 2; i++) assert.equal((await send(socket, 'run:start', { scenario: 'atomic-allocation' })).ok, true);
      const refused = await send(socket, 'run:start', { scenario: 'atomic-allocation' });
      assert.ok(!refused.ok);
      assert.equal(refused.error, 'rate_limited');
      assert.match(refused.message, /slow down: wait a second/);
      assert.equal((await send(socket, 'runs:watch', {})).ok, true);
    } finally {
      socket.disconnect();
    }
  });
});
