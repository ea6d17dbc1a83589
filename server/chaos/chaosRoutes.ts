/**
 * The chaos round over HTTP, so a round can be driven from outside too:
 * `POST /api/chaos/rounds` (presenter only) opens one, `GET …/:id` is its state,
 * `GET …/:id/history` its histories in the checker's format (`npm run check`).
 */
import express, { type Router } from 'express';
import { z } from 'zod';
import { parseOrThrow } from '../errors.ts';
import type { Gate } from '../hall/gate.ts';
import type { Logger } from '../log.ts';
import { ChaosRoundId, ChaosVariant, OpenChaosRoundRequest, type ChaosRoundOpened } from '../protocol.ts';
import { bodyOf, json, presenterOnly } from '../http/respond.ts';
import type { ChaosRounds } from './chaosRounds.ts';

const HistoryQuery = z.strictObject({ variant: ChaosVariant.optional() });

export function chaosRouter(deps: { rounds: ChaosRounds; gate: Gate; log: Logger }): Router {
  const { rounds, gate, log } = deps;
  const router = express.Router();

  router.post('/api/chaos/rounds', presenterOnly(gate), json(log, 201, async (req): Promise<ChaosRoundOpened> => {
    const { seconds } = parseOrThrow(OpenChaosRoundRequest, bodyOf(req));
    const round = await rounds.open(seconds);
    return { id: round.id, round: round.state() };
  }));

  router.get('/api/chaos/rounds/:id', json(log, 200, (req) => rounds.state(parseOrThrow(ChaosRoundId, req.params.id))));

  router.get('/api/chaos/rounds/:id/history', json(log, 200, async (req, res) => {
    const id = parseOrThrow(ChaosRoundId, req.params.id);
    const { variant } = parseOrThrow(HistoryQuery, { ...req.query });
    const histories = await rounds.history(id);
    res.setHeader('Content-Disposition', `attachment; filename="chaos-${id}${variant ? `-${variant}` : ''}.json"`);
    return variant ? histories.find((h) => h.release === variant) : histories;
  }));

  return router;
}
