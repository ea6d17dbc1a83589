/**
 * Scenario runs over HTTP (the same data the sockets stream) and the metrics
 * page. Bodies and parameters are parsed by schemas; bad input is a 400.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import express, { type Router } from 'express';
import type { Registry } from 'prom-client';
import { RunId, ScenarioName, StartRunRequest } from '../protocol.ts';
import { ClientError, parseOrThrow } from '../errors.ts';
import { admitAudience, bodyOf, json } from './respond.ts';
import type { Logger } from '../log.ts';
import { DOUBLE_RELEASES_METRIC } from '../metrics.ts';
import type { Gate } from '../hall/gate.ts';
import type { HallDeck } from '../hall/deckState.ts';
import { panelOfScenario } from '../hall/audiencePanels.ts';
import { audienceRunRequest } from '../hall/audienceRuns.ts';
import type { RunService } from '../scenarios/runService.ts';

export function runRouter(deps: { runs: RunService; gate: Gate; deck: HallDeck; metrics: Registry; metricsToken?: string | undefined; log: Logger }): Router {
  const { runs, gate, deck, metrics, metricsToken, log } = deps;
  const router = express.Router();

  router.post(
    '/api/scenarios/:name/runs',
    json(log, 202, async (req, res) => {
      const scenario = parseOrThrow(ScenarioName, req.params.name);
      const request = parseOrThrow(StartRunRequest, bodyOf(req));
      await admitAudience(gate, req, panelOfScenario(scenario));
      const viewer = gate.viewerOf(req);
      const run = gate.isPresenter(viewer)
        ? await runs.start(scenario, request)
        : await runs.start(scenario, audienceRunRequest(deck, scenario, request), { presenter: false, session: viewer.limitKey });
      res.location(`/api/runs/${run.id}`);
      return run;
    }),
  );

  router.get(
    '/api/runs/:id',
    json(log, 200, async (req) => {
      const run = await runs.get(parseOrThrow(RunId, req.params.id));
      if (!run) throw new ClientError('not_found', `no run ${req.params.id} (the latest few hundred runs are kept)`);
      return run;
    }),
  );

  // The one figure every phone's Defense panel shows (Layer 3): the double-release counter alone, in the same text
  // format, for anyone. It reads no pool and no process metric, so asking often costs next to nothing.
  router.get('/metrics/double-releases', async (_req, res) => {
    res.type(metrics.contentType).send(await metrics.getSingleMetricAsString(DOUBLE_RELEASES_METRIC));
  });

  // For the presenter (its cookie or bearer: not counted as the presenter acting) or a scraper with METRICS_TOKEN.
  router.get('/metrics', async (req, res) => {
    if (!gate.isPresenter(gate.viewerOf(req)) && !bearerIs(req.headers.authorization, metricsToken)) {
      res.status(403).json({ error: 'forbidden', message: "metrics need the presenter's credential or METRICS_TOKEN (Authorization: Bearer)" });
      return;
    }
    try {
      res.type(metrics.contentType).send(await metrics.metrics());
    } catch (error) {
      log.error('metrics failed', { error: String(error) });
      res.status(500).type('text/plain').send('metrics unavailable\n');
    }
  });
  return router;
}

/** Whether `header` is `Bearer <token>` (constant time; never with no token configured). */
function bearerIs(header: string | undefined, token: string | undefined): boolean {
  if (!token || !header?.startsWith('Bearer ')) return false;
  const digest = (value: string) => createHash('sha256').update(value).digest();
  return timingSafeEqual(digest(header.slice(7)), digest(token));
}
