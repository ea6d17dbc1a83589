/**
 * What a hostile browser or client meets before any route: security headers with
 * a Content-Security-Policy the deck runs under (its own scripts only, sockets to
 * its own origin, images and fonts from itself or inline data), and state-changing
 * requests that must come from the site's own pages (Origin, or Sec-Fetch-Site when
 * a browser sends no Origin) and say they carry JSON, body or not: a form on another
 * origin (which can only send text/plain, urlencoded or multipart, and whose cookies
 * the browser sends when that origin is on the same site) cannot change anything,
 * and a script on one cannot without a CORS preflight this server never answers.
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

/** Whether a page of `origin` may act on a server reached as `host`: its own origin, or one configured. */
export function originAllowed(origin: string | undefined, host: string | undefined, allowed: readonly string[]): boolean {
  // Not a browser (a browser always sends Origin on a cross-origin or websocket request): nothing to protect.
  if (origin === undefined) return true;
  if (allowed.includes(origin)) return true;
  try {
    return host !== undefined && new URL(origin).host === host;
  } catch {
    return false;
  }
}

/** A request a browser made for a page of another origin (by Origin, else by Sec-Fetch-Site). */
function fromAnotherOrigin(req: Parameters<RequestHandler>[0], allowedOrigins: readonly string[]): boolean {
  const origin = req.headers.origin;
  if (origin !== undefined) return !originAllowed(origin, req.headers.host, allowedOrigins);
  const site = req.headers['sec-fetch-site'];
  return site === 'cross-site' || site === 'same-site';
}

/**
 * A state-changing request must come from the site's own pages (or an allowed origin; a client that is no
 * browser sends neither header) and be `application/json` in UTF-8, with a body or without: 403 or 415, unread.
 */
export function jsonOnly(allowedOrigins: readonly string[] = []): RequestHandler {
  return (req, res, next) => {
    if (!STATE_CHANGING.has(req.method)) return next();
    if (fromAnotherOrigin(req, allowedOrigins)) {
      res.status(403).json({ error: 'forbidden', message: "only the site's own pages may change anything" });
      return;
    }
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
