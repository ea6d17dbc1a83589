/**
 * What every HTTP route shares, in one place so no route can miss it: the JSON
 * body parser with its size limit, the wrapper that turns a handler's result or
 * error into a JSON answer, the viewer's session and the checks of who may act, and the last-resort error
 * handler that answers bad JSON, oversized bodies and unknown endpoints in JSON
 * too. The app mounts the parser before every router and the handlers after.
 */
import express, { type NextFunction, type Request, type RequestHandler, type Response } from 'express';
import { ClientError, httpStatus, toApiError } from '../errors.ts';
import type { Logger } from '../log.ts';
import type { AudiencePanel } from '../protocol.ts';
import type { Gate } from '../hall/gate.ts';
import { Sessions } from '../session/sessions.ts';

export const BODY_LIMIT = '4kb';

/** Parses JSON bodies of /api requests; anything else than an object or array is refused. */
export function jsonBodies(): RequestHandler {
  return express.json({ limit: BODY_LIMIT, strict: true });
}

/** A missing body is an empty object; anything else must be the JSON object the schema wants. */
export function bodyOf(req: Request): unknown {
  return req.body ?? {};
}

/** Answers with what `handler` returns, or with the error it throws as `{error, message}`. */
export function json(log: Logger, status: number, handler: (req: Request, res: Response) => unknown): RequestHandler {
  return async (req, res) => {
    try {
      res.status(status).json(await handler(req, res));
    } catch (error) {
      sendError(log, req, res, error);
    }
  };
}

/**
 * Lets an audience action through for the panel it belongs to (open, within the
 * viewer session's and the panel's limits), or throws; the presenter always passes.
 * Called after the body is parsed: bad input is a 400 and costs no token.
 */
export async function admitAudience(gate: Gate, req: Request, panel: AudiencePanel): Promise<void> {
  await gate.audience(gate.viewerOf(req), panel);
}

/** The presenter's session cookie, or `Authorization: Bearer <presenter secret>`; anyone else is `forbidden`. */
export function presenterOnly(gate: Gate): RequestHandler {
  return (req, _res, next) => {
    try {
      gate.requirePresenter(gate.viewerOf(req));
      next();
    } catch (error) {
      next(error);
    }
  };
}

/** Every request belongs to a viewer session: a request without one gets its cookie here. */
export function viewerSessions(gate: Gate): RequestHandler {
  return (req, res, next) => {
    Sessions.applyCookie(gate.viewerOf(req), res);
    next();
  };
}

function sendError(log: Logger, req: Request, res: Response, error: unknown): void {
  const apiError = toApiError(error);
  if (apiError.error === 'internal') log.error('request failed', { path: req.path, error: String(error) });
  res.status(httpStatus(apiError.error)).json(apiError);
}

/** After every router: unknown /api endpoints, and errors from middleware (bad JSON, too large, limits, presenter check). */
export function apiFallbacks(log: Logger): [RequestHandler, express.ErrorRequestHandler] {
  const notFound: RequestHandler = (req, res, next) => {
    if (!req.path.startsWith('/api/')) return next();
    res.status(404).json({ error: 'bad_request', message: 'no such endpoint' });
  };
  const errors = (error: unknown, req: Request, res: Response, _next: NextFunction) => {
    const status = (error as { status?: number }).status;
    if (!(error instanceof ClientError) && status === 415) {
      res.status(415).json({ error: 'unsupported_media_type', message: (error as Error).message });
    } else if (!(error instanceof ClientError) && status === 413) {
      res.status(413).json({ error: 'bad_request', message: `body too large (${BODY_LIMIT} at most)` });
    } else if (!(error instanceof ClientError) && status === 400) {
      res.status(400).json({ error: 'bad_request', message: `body is not valid JSON: ${(error as Error).message}` });
    } else {
      sendError(log, req, res, error);
    }
  };
  return [notFound, errors];
}
