/**
 * The admission's maps are per client and forget every client once it is quiet: a
 * hall of thousands of sessions that came and went leaves nothing behind. Real
 * requests are not needed to count map entries: the admission is driven through
 * socket.io's own `allowRequest` hook, on a fake clock.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { IncomingMessage } from 'node:http';
import { Admission, type Client } from '../../server/sockets/admission.ts';
import { createCapturingLogger } from '../../server/log.ts';

function admissionAt(clock: { now: number }): Admission {
  return new Admission({
    allowedOrigins: [],
    handshakesPerSecond: 5,
    socketEventsPerSecond: 5,
    // The test's requests carry who they are in a header, as the session cookie does on the server.
    clientOf: (req) => JSON.parse(req.headers['x-client'] as string) as Client,
    log: createCapturingLogger().logger,
    now: () => clock.now,
  });
}

function ask(admission: Admission, client: Client): Promise<boolean> {
  const req = { headers: { 'x-client': JSON.stringify(client) } } as unknown as IncomingMessage;
  return new Promise((resolve) => admission.allowRequest(req, (_error, success) => resolve(success)));
}

test('a session that came back once leaves no budget behind once it is quiet', async () => {
  const clock = { now: 1_000_000 };
  const admission = admissionAt(clock);
  try {
    for (let i = 0; i < 1000; i++) await ask(admission, { key: `session:${i}`, presenter: false, returning: true });
    for (let i = 0; i < 20; i++) await ask(admission, { key: 'anon:10.0.0.1', presenter: false, returning: false });
    assert.ok(admission.tracked() >= 1000, `${admission.tracked()} entries while the hall connects`);
    clock.now += 60_000;
    admission.sweep();
    assert.equal(admission.tracked(), 0, 'quiet a minute: nothing kept');
  } finally {
    admission.close();
  }
});

test('the presenter is let in whatever the budgets say; a returning session has a budget of its own', async () => {
  const clock = { now: 1_000_000 };
  const admission = admissionAt(clock);
  try {
    const newcomers = await Promise.all(Array.from({ length: 50 }, () => ask(admission, { key: 'anon:10.0.0.1', presenter: false, returning: false })));
    assert.ok(newcomers.filter(Boolean).length <= 10, 'the newcomers\' budget is spent');
    assert.equal(await ask(admission, { key: 'session:phone', presenter: false, returning: true }), true);
    for (let i = 0; i < 50; i++) assert.equal(await ask(admission, { key: 'anon:10.0.0.1', presenter: true, returning: false }), true);
  } finally {
    admission.close();
  }
});
