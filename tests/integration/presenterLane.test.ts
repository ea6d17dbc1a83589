/**
 * The stage belongs to the presenter: whatever one client in the hall does (flood
 * handshakes, mint sessions, emit every event without waiting for answers, fill the
 * run queue), the presenter gets in and acts, and a phone that holds a session gets
 * back in. Each attacker here is a real client of a real server.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { io, type Socket } from 'socket.io-client';
import { PRESENTER_SECRET, api, newViewerSession, openAllPanels, startSite, type Site } from '../support/site.ts';
import { withDeadline } from '../support/deadline.ts';
import type { Ack, RunRecord, RunSummary } from '../../server/protocol.ts';

const BEARER = { authorization: `Bearer ${PRESENTER_SECRET}` };
const DEADLINE_MS = 15_000;

/** One socket.io handshake as a polling client sends it: true when the server let it in. */
async function handshake(site: Site, headers: Record<string, string> = {}): Promise<boolean> {
  const response = await fetch(`${site.url}/socket.io/?EIO=4&transport=polling`, { headers });
  const body = await response.text();
  return response.status === 200 && body.startsWith('0{');
}

function connect(site: Site, headers: Record<string, string>): Promise<Socket> {
  const socket = io(site.url, { transports: ['websocket'], forceNew: true, reconnection: false, extraHeaders: headers });
  return withDeadline(
    new Promise<Socket>((resolve, reject) => {
      socket.once('connect', () => resolve(socket));
      socket.once('connect_error', reject);
    }),
    DEADLINE_MS,
    'the socket to connect',
  );
}

async function send<T>(socket: Socket, event: string, payload: unknown): Promise<Ack<T>> {
  return (await socket.timeout(DEADLINE_MS).emitWithAck(event, payload)) as Ack<T>;
}

describe('handshakes', () => {
  let site: Site;
  before(async () => {
    site = await startSite({ HANDSHAKES_PER_SECOND: '5' });
  });
  after(async () => {
    await site?.close();
  });

  test('one client floods handshakes, with no session and with sessions it minted: the presenter and a returning phone get in at once', async () => {
    // A phone that was here: it holds its session and connected before.
    const phone = await newViewerSession(site);
    assert.equal(await handshake(site, { cookie: phone }), true);
    const minted = await Promise.all(Array.from({ length: 20 }, () => newViewerSession(site)));

    let flooding = true;
    let refused = 0;
    const flood = (async () => {
      while (flooding) {
        const wave = await Promise.all(Array.from({ length: 100 }, (_, i) => handshake(site, i % 2 === 0 ? {} : { cookie: minted[i % minted.length]! })));
        refused += wave.filter((admitted) => !admitted).length;
      }
    })();
    try {
      // The flood has the budget of newcomers spent before the presenter tries.
      await withDeadline((async () => { while (refused < 100) await new Promise((resolve) => setTimeout(resolve, 20)); })(), DEADLINE_MS, 'the flood to be refused');
      const presenter: boolean[] = [];
      for (let i = 0; i < 10; i++) presenter.push(await handshake(site, BEARER));
      assert.deepEqual(presenter, Array(10).fill(true), 'every presenter handshake let in');
      assert.equal(await handshake(site, { cookie: phone }), true, 'the phone with its session gets back in');
    } finally {
      flooding = false;
      await flood;
    }
    assert.ok(refused >= 100, `the flood itself was refused (${refused})`);
  });

  test('cookie-less requests from one address mint a bounded number of sessions', async () => {
    let issued = 0;
    for (let wave = 0; wave < 8; wave++) {
      const responses = await Promise.all(Array.from({ length: 100 }, () => fetch(`${site.url}/healthz`)));
      for (const response of responses) {
        await response.arrayBuffer();
        if (response.headers.get('set-cookie')) issued++;
      }
    }
    // 20 sessions above were minted too, and the flood's answers: past the burst, only a trickle more.
    assert.ok(issued < 600, `800 cookie-less requests got ${issued} sessions`);
  });
});

describe('an attacker that does not wait for acks', () => {
  let site: Site;
  before(async () => {
    site = await startSite({ SOCKET_EVENTS_PER_SECOND: '5' });
    openAllPanels(site);
  });
  after(async () => {
    await site?.close();
  });

  test('a socket emitting thousands of events at once is cut off; the presenter on the same address is never limited; a viewer is answered', async () => {
    // No cookie: the attacker and the presenter's script (bearer, no cookie) come from one address.
    const attacker = await connect(site, {});
    const presenter = await connect(site, BEARER);
    const viewer = await connect(site, { cookie: await newViewerSession(site) });
    try {
      const cutOff = withDeadline(new Promise<void>((resolve) => attacker.once('disconnect', () => resolve())), DEADLINE_MS, 'the attacker to be cut off');
      for (let i = 0; i < 3000; i++) attacker.emit(['pool:watch', 'pool:release', 'run:start', 'hall:join'][i % 4]!, i % 4 === 1 ? { executor: 'executor-1' } : i % 4 === 2 ? { scenario: 'attempt-1' } : {}, () => {});
      // The presenter, meanwhile, sends far more than a viewer's budget, all at once.
      const replies = await Promise.all(Array.from({ length: 60 }, () => send(presenter, 'hall:console', {})));
      assert.deepEqual(replies.filter((reply) => !reply.ok), [], 'no presenter event refused');
      await cutOff;
      assert.equal(presenter.connected, true, 'the presenter stays connected when its address is cut off');
      assert.equal((await send(presenter, 'panel:open', { panel: 'lua-release', open: true })).ok, true, 'the presenter acts');
      assert.equal((await send(viewer, 'pool:watch', {})).ok, true, 'a viewer with its own session is answered');
      assert.equal(await handshake(site, BEARER), true, 'the presenter opens a new socket while the address is cut off');
    } finally {
      for (const socket of [attacker, presenter, viewer]) socket.close();
    }
  });
});

describe('the run queue', () => {
  let site: Site;
  before(async () => {
    site = await startSite({ TASK_WORKERS: '1', STAGE_TTL_SECONDS: '2', VIEWER_ACTION_BURST: '20' });
    openAllPanels(site);
  });
  after(async () => {
    await site?.close();
  });

  test('one queued run per session; when full, the presenter is never refused, the newest audience run is shed, and the presenter goes first', async () => {
    const started: { id: string; at: number }[] = [];
    const finished = new Map<string, number>();
    site.runs.on('started', (run) => started.push({ id: run.id, at: Date.now() }));
    site.runs.on('finished', (run) => finished.set(run.id, Date.now()));
    const start = (headers: Record<string, string>, scenario = 'atomic-allocation') => api<RunSummary & { error?: string }>(site, 'POST', `/api/scenarios/${scenario}/runs`, {}, headers);

    // The presenter's first run holds the stage (its busy marker's TTL runs out before it ends).
    const first = await start(BEARER, 'ttl-safety-net');
    assert.equal(first.status, 202);
    const viewers = await Promise.all(Array.from({ length: 6 }, () => newViewerSession(site)));
    const audience: string[] = [];
    for (const cookie of viewers.slice(0, 5)) {
      const reply = await start({ cookie });
      assert.equal(reply.status, 202, JSON.stringify(reply.body));
      audience.push(reply.body.id);
      if (audience.length === 1) {
        const again = await start({ cookie });
        assert.deepEqual([again.status, again.body.error], [429, 'stage_busy'], 'a second queued run of one session');
      }
    }
    const full = await start({ cookie: viewers[5]! });
    assert.deepEqual([full.status, full.body.error], [429, 'stage_busy'], 'the audience queue is full');
    const second = await start(BEARER);
    assert.equal(second.status, 202, 'the presenter is never refused');

    await withDeadline(site.runs.idle(), 120_000, 'every run to end');
    const shed = (await site.runs.get(audience[4]!)) as RunRecord;
    assert.equal(shed.status, 'failed');
    assert.match(shed.error ?? '', /cancelled before it started/);
    const order = started.map((run) => run.id);
    assert.deepEqual(order, [first.body.id, second.body.id, ...audience.slice(0, 4)], 'the presenter first, then the audience in order');
    const freed = finished.get(first.body.id)!;
    const begun = started.find((run) => run.id === second.body.id)!.at;
    assert.ok(begun - freed < 1000, `the presenter's run started ${begun - freed} ms after the stage was free`);
  });
});
