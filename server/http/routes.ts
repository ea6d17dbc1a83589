/**
 * The HTTP API: JSON in and out, every body parsed by its schema. Bad input is a
 * 400 with a message and changes nothing.
 */
import express, { type Request, type Router } from 'express';
import type { Redis } from 'ioredis';
import { AllocateRequest, ReleaseRequest, ResetRequest, WatchRequest } from '../protocol.ts';
import { parseOrThrow } from '../errors.ts';
import { admitAudience, bodyOf as body, json as jsonWith, presenterOnly as presenterOnlyWith } from './respond.ts';
import type { Logger } from '../log.ts';
import type { PoolActions } from '../pool/poolActions.ts';
import type { Gate } from '../hall/gate.ts';
import { LUA_PANEL } from '../hall/audiencePanels.ts';

export interface ApiDependencies {
  redis: Redis;
  actions: PoolActions;
  gate: Gate;
  log: Logger;
}

export function apiRouter({ redis, actions, gate, log }: ApiDependencies): Router {
  const router = express.Router();
  const json = (status: number, handler: (req: Request) => unknown) => jsonWith(log, status, handler);
  // The Lua slide's buttons, over HTTP: open to the audience when the presenter opened that panel.
  const admitted = async <T extends { pool?: string }>(req: Request, request: T): Promise<T> => {
    // An unknown pool is bad input: refused before it costs the viewer a token (or Redis a command).
    actions.resolvePool(request.pool, 'act');
    await admitAudience(gate, req, LUA_PANEL);
    return request;
  };
  const presenterOnly = presenterOnlyWith(gate);

  router.get('/healthz', async (_req, res) => {
    try {
      const pong = await Promise.race([
        redis.ping(),
        new Promise<never>((_, reject) => setTimeout(() => reject(new Error('timeout')), 1000).unref()),
      ]);
      res.json({ redis: pong === 'PONG' ? 'ok' : pong, uptimeSeconds: Math.round(process.uptime()) });
    } catch {
      res.status(503).json({ redis: 'unavailable', uptimeSeconds: Math.round(process.uptime()) });
    }
  });

  router.get('/api/pool', json(200, (req) => {
    const { pool } = parseOrThrow(WatchRequest, { pool: req.query.pool });
    return actions.pools.snapshot(actions.resolvePool(pool));
  }));
  router.post('/api/allocate', json(200, async (req) => actions.allocate(await admitted(req, parseOrThrow(AllocateRequest, body(req))))));
  router.post('/api/release', json(200, async (req) => actions.release(await admitted(req, parseOrThrow(ReleaseRequest, body(req))))));
  router.post('/api/pool/reset', presenterOnly, json(200, async (req) => {
    const request = parseOrThrow(ResetRequest, body(req));
    await actions.reset(request);
    return actions.pools.snapshot(actions.resolvePool(request.pool));
  }));

  return router;
}
