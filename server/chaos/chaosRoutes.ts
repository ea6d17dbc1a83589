/**
 * The chaos round over HTTP, so a round can be driven from outside too:
 * `POST /api/chaos/rounds` (presenter only) opens one, `GET …/:id` is its state,
 * `GET …/:id/history` its histories in the checker's format (`npm run check`).
 *
 * A history is sent as the round stored it, gzipped (`Content-Encoding: gzip`), or
 * unzipped as it streams to a client that does not take gzip; a few at a time
 * (server/chaos/downloadSlots.ts). The loop never serializes a history here.
 */
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGunzip } from 'node:zlib';
import express, { type Request, type Router } from 'express';
import { z } from 'zod';
import { parseOrThrow } from '../errors.ts';
import type { Gate } from '../hall/gate.ts';
import type { Logger } from '../log.ts';
import { ChaosRoundId, ChaosVariant, OpenChaosRoundRequest, type ChaosRoundOpened } from '../protocol.ts';
import { bodyOf, json, presenterOnly } from '../http/respond.ts';
import type { ChaosRounds } from './chaosRounds.ts';
import { DownloadSlots } from './downloadSlots.ts';

const HistoryQuery = z.strictObject({ variant: ChaosVariant.optional() });

/** Whether the client said it takes gzip (no Accept-Encoding at all gets plain JSON). */
function takesGzip(req: Request): boolean {
  return req.headers['accept-encoding'] !== undefined && req.acceptsEncodings('gzip', 'identity') === 'gzip';
}

export function chaosRouter(deps: { rounds: ChaosRounds; gate: Gate; log: Logger }): Router {
  const { rounds, gate, log } = deps;
  const router = express.Router();
  const downloads = new DownloadSlots();

  router.post('/api/chaos/rounds', presenterOnly(gate), json(log, 201, async (req): Promise<ChaosRoundOpened> => {
    const { seconds } = parseOrThrow(OpenChaosRoundRequest, bodyOf(req));
    const round = await rounds.open(seconds);
    return { id: round.id, round: round.state() };
  }));

  router.get('/api/chaos/rounds/:id', json(log, 200, (req) => rounds.state(parseOrThrow(ChaosRoundId, req.params.id))));

  router.get('/api/chaos/rounds/:id/history', async (req, res, next) => {
    try {
      const id = parseOrThrow(ChaosRoundId, req.params.id);
      const { variant } = parseOrThrow(HistoryQuery, { ...req.query });
      const viewer = gate.viewerOf(req);
      const release = downloads.take(viewer.limitKey, gate.isPresenter(viewer));
      res.once('close', release);
      const gzipped = await rounds.history(id, variant ?? 'all').catch((error: unknown) => {
        release();
        throw error;
      });
      res.setHeader('Content-Type', 'application/json; charset=utf-8');
      res.setHeader('Content-Disposition', `attachment; filename="chaos-${id}${variant ? `-${variant}` : ''}.json"`);
      res.setHeader('Vary', 'Accept-Encoding');
      if (takesGzip(req)) {
        res.setHeader('Content-Encoding', 'gzip');
        res.setHeader('Content-Length', gzipped.length);
        res.end(gzipped);
      } else {
        await pipeline(Readable.from([gzipped]), createGunzip(), res).catch((error: unknown) =>
          log.warn('a history download ended early', { round: id, error: String(error) }),
        );
      }
    } catch (error) {
      next(error);
    }
  });

  return router;
}
