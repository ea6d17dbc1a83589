/**
 * What a hostile browser or client meets before any route: security headers with
 * a Content-Security-Policy the deck runs under (its own scripts only, sockets to
 * its own origin, images and fonts from itself or inline data), and state-changing
 * requests that must say they carry JSON, so a cross-site form (which can only send
 * text/plain, urlencoded or multipart) cannot start anything.
 */
import type { RequestHandler } from 'express';
import helmet from 'helmet';

/** sha256 of the inline script of reveal.js 6's speaker view (plugin/notes). */
export const SPEAKER_VIEW_SCRIPT = "'sha256-GzCveToXhSIzS3M5eQeRm3McVRB7cYneYKwTkzA3wDk='";

export function securityHeaders(): RequestHandler {
  return helmet({
    contentSecurityPolicy: {
      useDefaults: false,
      directives: {
        defaultSrc: ["'self'"],
        // The one inline script allowed: reveal.js' speaker view, which its notes plugin writes into the
        // popup it opens (a popup inherits this policy). A reveal.js upgrade that changes it fails csp.test.
        scriptSrc: ["'self'", SPEAKER_VIEW_SCRIPT],
        // reveal.js lays slides out with style attributes, and the markdown slides carry some.
        styleSrc: ["'self'", "'unsafe-inline'"],
        imgSrc: ["'self'", 'data:'],
        fontSrc: ["'self'", 'data:'],
        // socket.io's polling and its websocket, to this origin only ('self' covers ws: and wss: of it).
        connectSrc: ["'self'"],
        // The speaker view shows the deck in frames of the same origin.
        frameSrc: ["'self'"],
        frameAncestors: ["'self'"],
        objectSrc: ["'none'"],
        baseUri: ["'self'"],
        formAction: ["'self'"],
      },
    },
    // The speaker view is a popup of the deck that talks back to its opener.
    crossOriginOpenerPolicy: { policy: 'same-origin-allow-popups' },
  });
}

const STATE_CHANGING = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);

function hasBody(req: Parameters<RequestHandler>[0]): boolean {
  const length = req.headers['content-length'];
  return req.headers['transfer-encoding'] !== undefined || (length !== undefined && length !== '0');
}

/** A body on a state-changing request must be `application/json` in UTF-8: anything else is 415, unread. */
export function jsonOnly(): RequestHandler {
  return (req, res, next) => {
    if (!STATE_CHANGING.has(req.method) || !hasBody(req)) return next();
    const type = req.headers['content-type'] ?? '';
    const [mediaType = '', ...parameters] = type.split(';').map((part) => part.trim().toLowerCase());
    const charset = parameters.find((p) => p.startsWith('charset='))?.slice('charset='.length).replace(/"/g, '');
    if (mediaType !== 'application/json') {
      res.status(415).json({ error: 'unsupported_media_type', message: 'send the body as application/json' });
      return;
    }
    if (charset !== undefined && charset !== 'utf-8' && charset !== 'utf8') {
      res.status(415).json({ error: 'unsupported_media_type', message: `unsupported charset "${charset}": send UTF-8` });
      return;
    }
    next();
  };
}
