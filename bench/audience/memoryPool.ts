/**
 * The pool channel's protocol served from memory, for the bare baseline: the same
 * requests, acks and broadcasts (a `pool:changed` carrying the snapshot and the
 * action, the shape our server sends), none of the work behind them. Optionally
 * serves the built deck, so a real browser can click a panel against it.
 */
import express from 'express';
import type { Server } from 'socket.io';
import { DIST_DIR } from '../../server/app.ts';
import type { AllocateReply, DoubleReleaseWarning, PoolAction, PoolChange, PoolSnapshot, ReleaseReply } from '../../server/protocol.ts';

const POOL = 'main';
const SIZE = 4;
const TTL_SECONDS = 600;
/** As the benchmark configures our server. */
const DOUBLE_RELEASE_WINDOW_MS = 100;

export function servePoolInMemory(io: Server): void {
  const executors = Array.from({ length: SIZE }, (_, i) => `executor-${i + 1}`);
  let available = [...executors].reverse();
  const busy = new Map<string, { evalId: string; until: number; token: number }>();
  let lastToken = 0;
  const releasedAt = new Map<string, number>();

  const snapshot = (): PoolSnapshot => {
    const now = Date.now();
    const owners: Record<string, string> = {};
    const ttls: Record<string, number> = {};
    const tokens: Record<string, number> = {};
    for (const [url, marker] of busy) {
      owners[url] = marker.evalId;
      ttls[url] = marker.until - now;
      tokens[url] = marker.token;
    }
    return { pool: POOL, available: [...available], busy: owners, busyTtlMs: ttls, busyToken: tokens, executors, readAt: now };
  };

  // One message per change per tick, after the ack (as our server does).
  let pending: PoolAction[] = [];
  let warnings: DoubleReleaseWarning[] = [];
  const publish = (action: PoolAction) => {
    pending.push(action);
    if (action.kind === 'released') {
      for (const reply of action.releases) {
        if (reply.doubleRelease) {
          warnings.push({ message: 'Double release detected', pool: POOL, executor: reply.executor, sinceLastReleaseMs: reply.sinceLastReleaseMs ?? 0, at: Date.now() });
        }
      }
    }
    if (pending.length > 1) return;
    setImmediate(() => {
      const change: PoolChange = { ...snapshot(), actions: pending, doubleReleases: warnings };
      pending = [];
      warnings = [];
      io.to(`pool:${POOL}`).emit('pool:changed', change);
    });
  };

  const release = (executor: string): ReleaseReply => {
    const now = Date.now();
    const wasBusy = busy.delete(executor) ? 1 : 0;
    const added = available.includes(executor) ? 0 : 1;
    if (added) available.unshift(executor);
    const previous = releasedAt.get(executor) ?? -1;
    releasedAt.set(executor, now);
    const status = added ? 'released' : 'already_in_pool';
    const sinceLastReleaseMs = previous >= 0 ? now - previous : null;
    return {
      executor, wasBusy, added, status,
      reply: [wasBusy, added, status, now, previous],
      doubleRelease: sinceLastReleaseMs !== null && sinceLastReleaseMs < DOUBLE_RELEASE_WINDOW_MS,
      sinceLastReleaseMs,
    };
  };

  io.on('connection', (socket) => {
    const answer = (args: unknown[], reply: unknown) => {
      const ack = args.at(-1);
      if (typeof ack === 'function') ack(reply);
    };
    const request = (args: unknown[]) => (typeof args[0] === 'object' && args[0] !== null ? args[0] : {}) as Record<string, unknown>;
    socket.on('pool:watch', async (...args: unknown[]) => {
      await socket.join(`pool:${POOL}`);
      answer(args, { ok: true, data: snapshot() });
    });
    socket.on('pool:allocate', (...args: unknown[]) => {
      const evalId = String(request(args).evalId ?? 'eval');
      const executor = available.pop();
      if (!executor) return answer(args, { ok: false, error: 'pool_empty', message: `pool "${POOL}" has no available executor` });
      const token = ++lastToken;
      busy.set(executor, { evalId, until: Date.now() + TTL_SECONDS * 1000, token });
      const entry = JSON.stringify({ url: executor });
      const allocation: AllocateReply = { executor, evalId, ttlSeconds: TTL_SECONDS, previousOwner: null, token, reply: [entry, '', token] };
      answer(args, { ok: true, data: allocation });
      publish({ kind: 'allocated', pool: POOL, allocation, at: Date.now() });
    });
    socket.on('pool:release', (...args: unknown[]) => {
      const reply = release(String(request(args).executor ?? executors[0]));
      answer(args, { ok: true, data: reply });
      publish({ kind: 'released', pool: POOL, releases: [reply], at: Date.now() });
    });
    socket.on('pool:double-release', (...args: unknown[]) => {
      const executor = String(request(args).executor ?? executors[0]);
      const releases = [release(executor), release(executor)];
      answer(args, { ok: true, data: releases });
      publish({ kind: 'released', pool: POOL, releases, at: Date.now() });
    });
    // The deck's other panels ask for runs on load: nothing to show.
    socket.on('runs:watch', (...args: unknown[]) => answer(args, { ok: true, data: [] }));
  });
}

/** The built deck, for the http server to serve (made before socket.io attaches to it). */
export function deckFiles(): express.Express {
  const app = express();
  app.use(express.static(DIST_DIR, { index: 'index.html' }));
  return app;
}
