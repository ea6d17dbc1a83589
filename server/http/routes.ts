/**
 * The HTTP API: JSON in and out, every body parsed by its schema. Bad input is a
 * 400 with a message and changes nothing.
 */
import express, { type NextFunction, type Request, type Response, type Router } from 'express';
import type { Redis } from 'ioredis';
import { timingSafeEqual } from 'node:crypto';
import { AllocateRequest, ReleaseRequest, ResetRequest, WatchRequest } from '../protocol.ts';
import { ClientError, httpStatus, parseOrThrow, toApiError } from '../errors.ts';
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

type Handler = (req: Request, res: Response) => Promise<unknown>;

export function secretMatches(given: string | undefined, secret: string): boolean {
  if (!given) return false;
  const a = Buffer.from(given);
  const b = Buffer.from(secret);
  return a.length === b.length && timingSafeEqual(a, b);
}

export function apiRouter({ redis, actions, presenterSecret, viewerLimiter, log }: ApiDependencies): Router {
  const router = express.Router();
  router.use(express.json({ limit: '4kb', strict: true }));

  const json = (status: number, handler: Handler) => async (req: Request, res: Response) => {
    try {
      res.status(status).json(await handler(req, res));
    } catch (error) {
      const apiError = toApiError(error);
      if (apiError.error === 'internal') log.error('request failed', { path: req.path, error: String(error) });
      res.status(httpStatus(apiError.error)).json(apiError);
    }
  };
  const limited = (req: Request, _res: Response, next: NextFunction) => {
    if (viewerLimiter.take(`ip:${req.ip}`)) return next();
    next(new ClientError('rate_limited', 'too many actions: slow down'));
  };
  const presenterOnly = (req: Request, _res: Response, next: NextFunction) => {
    const header = req.get('authorization') ?? '';
    if (secretMatches(header.startsWith('Bearer ') ? header.slice(7) : undefined, presenterSecret)) return next();
    next(new ClientError('forbidden', 'presenter only: send Authorization: Bearer <presenter secret>'));
  };
  /** A missing body is an empty object; anything else must be the JSON object the schema wants. */
  const body = (req: Request): unknown => req.body ?? {};

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

  router.use('/api', (_req: Request, res: Response) => {
    res.status(404).json({ error: 'bad_request', message: 'no such endpoint' });
  });
  // Errors from the middleware above (bad JSON, too large, limits, presenter check).
  router.use((error: unknown, req: Request, res: Response, _next: NextFunction) => {
    if (error instanceof ClientError) {
      res.status(httpStatus(error.code)).json(toApiError(error));
      return;
    }
    const status = (error as { status?: number }).status;
    if (status === 413) {
      res.status(413).json({ error: 'bad_request', message: 'body too large (4 KB at most)' });
      return;
    }
    if (status === 400) {
      res.status(400).json({ error: 'bad_request', message: `body is not valid JSON: ${(error as Error).message}` });
      return;
    }
    log.error('request failed', { path: req.path, error: String(error) });
    res.status(500).json({ error: 'internal', message: 'internal error' });
  });
  return router;
}
