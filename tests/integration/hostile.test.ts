/**
 * What a hostile client meets: security headers, sockets only from the site's own
 * origin (or configured ones), JSON-only state changes (a cross-site form cannot
 * start anything), no fresh rate-limit bucket from a spoofed X-Forwarded-For, a
 * flooding socket refused unread and then cut off while others carry on, a cap on
 * handshakes, and a flood of double releases logged as one line with a count.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { io, type Socket } from 'socket.io-client';
import { PRESENTER_SECRET, api, newViewerSession, openAllPanels, startSite, type Site } from '../support/site.ts';
import { poolState } from '../support/redis.ts';
import { withDeadline } from '../support/deadline.ts';
import { logged } from '../support/redis.ts';

const DEADLINE_MS = 10_000;

/** Connects (polling first, as a browser does) with `headers`; resolves with the socket or the refusal. */
function tryConnect(site: Site, headers: Record<string, string> = {}): Promise<{ socket: Socket; error: Error | null }> {
  const socket = io(site.url, { forceNew: true, reconnection: false, extraHeaders: headers, transports: ['polling'] });
  return withDeadline(
    new Promise((resolve) => {
      socket.once('connect', () => resolve({ socket, error: null }));
      socket.once('connect_error', (error) => resolve({ socket, error }));
    }),
    DEADLINE_MS,
    'the handshake to be answered',
  );
}

let site: Site;
before(async () => {
  site = await startSite({ ALLOWED_ORIGINS: 'https://slides.example', VIEWER_ACTIONS_PER_SECOND: '0.1', VIEWER_ACTION_BURST: '3', SOCKET_EVENTS_PER_SECOND: '5' });
  openAllPanels(site);
});
after(async () => {
  await site?.close();
});

test('security headers: a Content-Security-Policy, no X-Powered-By, nosniff', async () => {
  const response = await fetch(`${site.url}/healthz`);
  const csp = response.headers.get('content-security-policy') ?? '';
  assert.match(csp, /default-src 'self'/);
  assert.match(csp, /script-src 'self' 'sha256-[\w+/=]+'(;|$)/, 'scripts from the site only; inline only the speaker view, by hash');
  assert.match(csp, /object-src 'none'/);
  assert.match(csp, /frame-ancestors 'self'/);
  assert.equal(response.headers.get('x-powered-by'), null);
  assert.equal(response.headers.get('x-content-type-options'), 'nosniff');
});

describe('the socket handshake', () => {
  test('a page of another origin cannot open a socket', async () => {
    const { socket, error } = await tryConnect(site, { origin: 'http://evil.example' });
    socket.close();
    assert.ok(error, 'refused');
  });
  test("the site's own origin, a configured one, and a client that sends no Origin may", async () => {
    const headerSets: Record<string, string>[] = [{ origin: site.url }, { origin: 'https://slides.example' }, {}];
    for (const headers of headerSets) {
      const { socket, error } = await tryConnect(site, headers);
      socket.close();
      assert.equal(error, null, `allowed: ${JSON.stringify(headers)}`);
    }
  });
});

describe('state-changing requests accept only JSON', () => {
  const cases: [string, string, string][] = [
    ['a cross-site form as text/plain', 'text/plain', '{"evalId":"eval-form"}'],
    ['a urlencoded form', 'application/x-www-form-urlencoded', 'evalId=eval-form'],
    ['multipart', 'multipart/form-data; boundary=x', '--x\r\nContent-Disposition: form-data; name="evalId"\r\n\r\neval-form\r\n--x--'],
    ['JSON in an unknown charset', 'application/json; charset=x-unknown', '{"evalId":"eval-form"}'],
    ['JSON in latin1', 'application/json; charset=latin1', '{"evalId":"eval-form"}'],
  ];
  for (const [name, type, body] of cases) {
    test(`${name}: 415, nothing started or changed`, async () => {
      const before = poolState(await site.actions.pools.snapshot('main'));
      for (const path of ['/api/allocate', '/api/scenarios/attempt-3/runs']) {
        const response = await fetch(`${site.url}${path}`, { method: 'POST', headers: { 'content-type': type }, body });
        assert.equal(response.status, 415, path);
        assert.equal(((await response.json()) as { error: string }).error, 'unsupported_media_type');
      }
      assert.deepEqual(poolState(await site.actions.pools.snapshot('main')), before);
    });
  }
  test('application/json; charset=utf-8 is accepted', async () => {
    const response = await fetch(`${site.url}/api/pool/reset`, {
      method: 'POST',
      headers: { 'content-type': 'application/json; charset=utf-8', authorization: `Bearer ${PRESENTER_SECRET}` },
      body: '{}',
    });
    assert.equal(response.status, 200);
  });
});

test('a spoofed X-Forwarded-For gets no fresh rate-limit bucket (no proxy is trusted unless TRUST_PROXY says so)', async () => {
  await site.actions.pools.reset('main');
  const statuses: number[] = [];
  for (let i = 0; i < 6; i++) {
    const reply = await api(site, 'POST', '/api/allocate', { evalId: `eval-spoof-${i}` }, { 'x-forwarded-for': `203.0.113.${i + 1}` });
    statuses.push(reply.status);
  }
  assert.ok(statuses.slice(-2).every((status) => status === 429), `over the burst of 3 whatever the header says: ${statuses.join(', ')}`);
});

test('a socket flooding events: refused unread with rate_limited, then disconnected; another socket carries on', async () => {
  // Two viewers, each with its session, as phones are (their page gave them a cookie before any socket).
  const flooder = (await tryConnect(site, { cookie: await newViewerSession(site) })).socket;
  const other = (await tryConnect(site, { cookie: await newViewerSession(site) })).socket;
  try {
    const dropped = withDeadline(new Promise<string>((resolve) => flooder.once('disconnect', (reason) => resolve(reason))), DEADLINE_MS, 'the flooder to be cut off');
    const refusals: string[] = [];
    for (let i = 0; i < 200; i++) {
      flooder.emit('pool:watch', {}, (reply: { ok: boolean; error?: string }) => {
        if (!reply.ok && reply.error) refusals.push(reply.error);
      });
    }
    assert.equal(await dropped, 'io server disconnect');
    assert.ok(refusals.length > 0 && refusals.every((e) => e === 'rate_limited'), `refused as rate_limited: ${refusals.length}`);
    const watched = (await other.timeout(DEADLINE_MS).emitWithAck('pool:watch', {})) as { ok: boolean };
    assert.equal(watched.ok, true);
  } finally {
    flooder.close();
    other.close();
  }
});

test('handshakes are capped per second for the whole server', async () => {
  const capped = await startSite({ HANDSHAKES_PER_SECOND: '2' });
  const sockets: Socket[] = [];
  try {
    const results = await Promise.all(Array.from({ length: 12 }, () => tryConnect(capped)));
    sockets.push(...results.map((r) => r.socket));
    const refused = results.filter((r) => r.error).length;
    assert.ok(refused >= 6, `most of a burst of 12 refused at 2/s (burst 4): ${refused}`);
    assert.ok(results.length - refused >= 4, 'the burst itself is let in');
  } finally {
    for (const socket of sockets) socket.close();
    await capped.close();
  }
});

test('a flood of double releases is logged once per executor and window, with a count', async () => {
  await site.actions.pools.reset('main');
  const lines = site.logLines.length;
  for (let i = 0; i < 50; i++) await site.actions.pools.release('main', 'executor-1');
  const during = logged(site.logLines.slice(lines), 'Double release detected');
  assert.equal(during.length, 1, 'one line while the window is open');
  site.actions.pools.warnings.flush();
  const all = logged(site.logLines.slice(lines), 'Double release detected');
  assert.equal(all.length, 2);
  assert.equal(all[1]!.repeated, 48, '49 double releases: the first logged, 48 counted');
});

describe('state-changing requests come from the site\'s own pages', () => {
  async function presenterCookie(): Promise<string> {
    const response = await fetch(`${site.url}/presenter?token=${encodeURIComponent(PRESENTER_SECRET)}`, { redirect: 'manual' });
    return (response.headers.get('set-cookie') ?? '').split(';')[0] ?? '';
  }

  test('a form of another origin with no body, sent with the presenter\'s cookie: refused, nothing reset', async () => {
    const cookie = await presenterCookie();
    await site.actions.allocate({ evalId: 'eval-kept', pool: 'main' });
    const before = poolState(await site.actions.pools.snapshot('main'));
    const attempts: [string, Record<string, string>, number][] = [
      ['another origin', { origin: 'http://127.0.0.1:9', 'content-type': 'application/x-www-form-urlencoded' }, 403],
      ['another origin, claiming JSON', { origin: 'http://evil.example', 'content-type': 'application/json' }, 403],
      ['no Origin, Sec-Fetch-Site: cross-site', { 'sec-fetch-site': 'cross-site', 'content-type': 'application/x-www-form-urlencoded' }, 403],
      ['no Origin, Sec-Fetch-Site: same-site', { 'sec-fetch-site': 'same-site', 'content-type': 'application/json' }, 403],
      ['the site\'s own origin, an empty form', { origin: site.url, 'content-type': 'application/x-www-form-urlencoded' }, 415],
      ['the site\'s own origin, no Content-Type', { origin: site.url }, 415],
    ];
    for (const [name, headers, status] of attempts) {
      for (const path of ['/api/hall/reset', '/api/pool/reset']) {
        const response = await fetch(`${site.url}${path}`, { method: 'POST', headers: { cookie, ...headers } });
        assert.equal(response.status, status, `${name}: ${path}`);
      }
    }
    assert.deepEqual(poolState(await site.actions.pools.snapshot('main')), before, 'nothing reset');
    const own = await fetch(`${site.url}/api/pool/reset`, { method: 'POST', headers: { cookie, origin: site.url, 'sec-fetch-site': 'same-origin', 'content-type': 'application/json' } });
    assert.equal(own.status, 200, 'the site\'s own page, JSON with no body');
    const configured = await fetch(`${site.url}/api/pool/reset`, { method: 'POST', headers: { cookie, origin: 'https://slides.example', 'content-type': 'application/json' } });
    assert.equal(configured.status, 200, 'an origin of ALLOWED_ORIGINS');
  });
});

describe('/metrics', () => {
  test('refused without the presenter\'s credential or METRICS_TOKEN; standard names; a scrape storm reads the pools once', async () => {
    const token = 'a-metrics-token-for-prometheus';
    // The reaper's sweep off: nothing else reads the pools meanwhile.
    const metricsSite = await startSite({ METRICS_TOKEN: token, REAPER_SWEEP_MS: '3600000' });
    try {
      const scrape = (headers: Record<string, string>) => fetch(`${metricsSite.url}/metrics`, { headers });
      const refusedHeaders: Record<string, string>[] = [{}, { cookie: await newViewerSession(metricsSite) }, { authorization: 'Bearer not-the-token-at-all' }];
      for (const headers of refusedHeaders) {
        const refused = await scrape(headers);
        assert.equal(refused.status, 403, JSON.stringify(headers));
        await refused.arrayBuffer();
      }
      const text = await (await scrape({ authorization: `Bearer ${token}` })).text();
      assert.equal((await scrape({ authorization: `Bearer ${PRESENTER_SECRET}` })).status, 200, 'the presenter reads it too');
      for (const name of ['process_cpu_seconds_total', 'process_resident_memory_bytes', 'nodejs_eventloop_lag_seconds', 'idem_releases_total', 'idem_pool_executors']) {
        assert.match(text, new RegExp(`^# TYPE ${name} `, 'm'), name);
      }
      assert.doesNotMatch(text, /idem_process_/);
      // Every read of a pool goes through snapshot(): counted on the way through.
      const executorPools = metricsSite.actions.pools;
      const snapshot = executorPools.snapshot.bind(executorPools);
      let reads = 0;
      executorPools.snapshot = (pool) => ((reads += 1), snapshot(pool));
      await Promise.all(Array.from({ length: 20 }, async () => (await scrape({ authorization: `Bearer ${token}` })).text()));
      const pools = new Set([...text.matchAll(/^idem_pool_executors\{pool="([^"]+)"/gm)].map((match) => match[1])).size;
      assert.ok(pools > 1);
      // At most one more read of each pool (the first scrape's may have run out on a slow machine), not one per scrape.
      assert.ok(reads <= pools, `20 scrapes read the pools ${reads} times (${pools} pools)`);
    } finally {
      await metricsSite.close();
    }
  });

  test('the double-release counter alone is every viewer\'s: it counts a double release, and carries nothing else', async () => {
    const viewer = { cookie: await newViewerSession(site) };
    const read = async () => {
      const response = await fetch(`${site.url}/metrics/double-releases`, { headers: viewer });
      assert.equal(response.status, 200);
      const text = await response.text();
      assert.match(text, /^# TYPE idem_double_releases_total counter$/m);
      assert.doesNotMatch(text, /^(process_|nodejs_|idem_releases_total|idem_pool_)/m, 'only the one counter');
      return [...text.matchAll(/^idem_double_releases_total\{[^}]*\} (\d+)/gm)].reduce((sum, match) => sum + Number(match[1]), 0);
    };
    const before = await read();
    const allocation = await site.actions.allocate({ evalId: 'eval-counted', pool: 'main' });
    await site.actions.doubleRelease({ executor: allocation.executor, pool: 'main' });
    // The warning is counted as the pools announce it: look again until it is, for at most 5 s.
    const deadline = Date.now() + 5000;
    let after = await read();
    while (after === before && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 50));
      after = await read();
    }
    assert.equal(after, before + 1);
  });
});

test('no log line carries a secret: the private Redis\' password, the presenter secret', async () => {
  const password = decodeURIComponent(new URL(site.redisUrl).password);
  assert.ok(password.length >= 8, 'the private Redis has a password');
  await fetch(`${site.url}/presenter?token=wrong-token-guess`);
  const leaks = site.logLines.filter((line) => line.includes(password) || line.includes(PRESENTER_SECRET));
  assert.deepEqual(leaks, []);
  assert.ok(logged(site.logLines, 'started a private redis-server').length === 1, 'the start is logged');
});
