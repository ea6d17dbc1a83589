/**
 * The hall over HTTP: the presenter link, the join slide's URL and QR code, and
 * the presenter's console and reset for scripts (`Authorization: Bearer`).
 */
import express, { type Router } from 'express';
import { EmptyRequest, PresenterQuery } from '../protocol.ts';
import { parseOrThrow } from '../errors.ts';
import type { Hall } from '../hall/hall.ts';
import type { Logger } from '../log.ts';
import type { PoolActions } from '../pool/poolActions.ts';
import { json, presenterOnly } from './respond.ts';

export function hallRouter(deps: { hall: Hall; actions: PoolActions; poolNames: () => Iterable<string>; log: Logger }): Router {
  const { hall, actions, poolNames, log } = deps;
  const router = express.Router();

  /**
   * The link `npm start` prints. A right token gives this browser a fresh presenter
   * session (HttpOnly, SameSite=Strict) and sends it to the deck, so the token leaves
   * the address bar at once and never reaches a page.
   */
  router.get('/presenter', (req, res) => {
    const query = PresenterQuery.safeParse(req.query);
    res.setHeader('Cache-Control', 'no-store');
    res.setHeader('Referrer-Policy', 'no-referrer');
    if (!query.success || !hall.sessions.tokenMatches(query.data.token)) {
      log.warn('presenter link refused: wrong or missing token');
      res.status(403).type('text/plain').send('This presenter link is not valid: use the one the server printed at start.\n');
      return;
    }
    const { setCookie } = hall.sessions.startPresenter(req);
    res.setHeader('Set-Cookie', setCookie);
    log.info('a presenter window signed in');
    res.redirect(303, './');
  });

  router.get('/api/join', json(log, 200, () => hall.join));
  router.get('/join.svg', async (_req, res) => {
    try {
      res.type('image/svg+xml').setHeader('Cache-Control', 'no-cache');
      res.send(await hall.joinQr());
    } catch (error) {
      log.error('join QR failed', { error: String(error) });
      res.status(500).type('text/plain').send('QR code unavailable\n');
    }
  });

  router.get('/api/hall', presenterOnly(hall.gate), json(log, 200, () => ({ state: hall.deck.state, join: hall.join, warnings: hall.warnings() })));
  router.post(
    '/api/hall/reset',
    presenterOnly(hall.gate),
    json(log, 200, async (req) => {
      parseOrThrow(EmptyRequest, req.body ?? {});
      await hall.resetEverything(actions, poolNames());
      return hall.deck.state;
    }),
  );
  return router;
}
