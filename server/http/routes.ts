/**
 * The HTTP API: JSON in and out, every body parsed by its schema. Bad input is a
 * 400 with a message and changes nothing.
 */
import express, { type NextFunction, type Request, type Response, type Router } from 'express';
import type { Redis } from 'ioredis';
import { timingSafeEqual } from 'node:crypto';
import { AllocateRequest, ReleaseRequest, ResetRequest, WatchRequest } from '../protocol.ts';
import { ClientError, parseOrThrow } from '../errors.ts';
import { bodyOf as body, json as jsonWith, limitedPerViewer } from './respond.ts';
import type { Logger } from '../log.ts';
import type { PoolActions } from '../pool/poolActions.ts';
import type { RateLimiter } from '../rateLimit.ts';

export interface ApiDependencies {
  redis: Redis;
  actions: PoolActions;
  presenterSecret: string;
  viewerLimiter: RateLimiter;
  log: Logger;
}

export function secretMatches(given: string | undefined, secret: string): boolean {
  if (!given) return false;
  const a = Buffer.from(given);
  const b = Buffer.from(secret);
  return a.length === b.length && timingSafeEqual(a, b);
}

export function apiRouter({ redis, actions, presenterSecret, viewerLimiter, log }: ApiDependencies): Router {
  const router = express.Router();
  const json = (status: number, handler: (req: Request) => unknown) => jsonWith(log, status, handler);
  const limited = limitedPerViewer(viewerLimiter);
  const presenterOnly = (req: Request, _res: Response, next: NextFunction) => {
    const header = req.get('authorization') ?? '';
    if (secretMatches(header.startsWith('Bearer ') ? header.slice(7) : undefined, presenterSecret)) return next();
    next(new ClientError('forbidden', 'presenter only: send Authorization: Bearer <presenter secret>'));
  };

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
  router.post('/api/allocate', limited, json(200, (req) => actions.allocate(parseOrThrow(AllocateRequest, body(req)))));
  router.post('/api/release', limited, json(200, (req) => actions.release(parseOrThrow(ReleaseRequest, body(req)))));
  router.post('/api/pool/reset', presenterOnly, json(200, async (req) => {
    const request = parseOrThrow(ResetRequest, body(req));
    await actions.reset(request);
    return actions.pools.snapshot(actions.resolvePool(request.pool));
  }));

  return router;
}
