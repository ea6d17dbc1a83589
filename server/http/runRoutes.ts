/**
 * Scenario runs over HTTP (the same data the sockets stream) and the metrics
 * page. Bodies and parameters are parsed by schemas; bad input is a 400.
 */
import express, { type Request, type Response, type Router } from 'express';
import type { Registry } from 'prom-client';
import { RunId, ScenarioName, StartRunRequest } from '../protocol.ts';
import { ClientError, httpStatus, parseOrThrow, toApiError } from '../errors.ts';
import type { Logger } from '../log.ts';
import type { RateLimiter } from '../rateLimit.ts';
import type { RunService } from '../scenarios/runService.ts';

export function runRouter(deps: { runs: RunService; viewerLimiter: RateLimiter; metrics: Registry; log: Logger }): Router {
  const { runs, viewerLimiter, metrics, log } = deps;
  const router = express.Router();
  router.use('/api/scenarios', express.json({ limit: '4kb', strict: true }));

  const fail = (req: Request, res: Response, error: unknown) => {
    const apiError = toApiError(error);
    if (apiError.error === 'internal') log.error('request failed', { path: req.path, error: String(error) });
    res.status(httpStatus(apiError.error)).json(apiError);
  };

  router.post('/api/scenarios/:name/runs', (req, res) => {
    try {
      if (!viewerLimiter.take(`ip:${req.ip}`)) throw new ClientError('rate_limited', 'too many actions: slow down');
      const scenario = parseOrThrow(ScenarioName, req.params.name);
      const request = parseOrThrow(StartRunRequest, req.body ?? {});
      const run = runs.start(scenario, request);
      res.status(202).location(`/api/runs/${run.id}`).json(run);
    } catch (error) {
      fail(req, res, error);
    }
  });

  router.get('/api/runs/:id', (req, res) => {
    try {
      const run = runs.get(parseOrThrow(RunId, req.params.id));
      if (!run) {
        res.status(404).json({ error: 'bad_request', message: `no run ${req.params.id} (runs are kept in memory, the latest few hundred)` });
        return;
      }
      res.json(run);
    } catch (error) {
      fail(req, res, error);
    }
  });

  router.get('/metrics', async (req, res) => {
    try {
      res.type(metrics.contentType).send(await metrics.metrics());
    } catch (error) {
      fail(req, res, error);
    }
  });
  return router;
}
