/**
 * Who is asking: every browser is a viewer session, named by a random id in an
 * HttpOnly cookie the server signs, so a client cannot make up ids of its own.
 * The same cookie names a browser's page requests and every socket it opens,
 * which is what rate limits count against: a hall shares one NAT address, so a
 * viewer is a session, never an IP or a socket.
 *
 * The presenter is a session whose cookie the server signed as a presenter's,
 * after the browser proved the secret (the presenter link), or a request with
 * `Authorization: Bearer`. The role is in what the server signs, with a key of its
 * own, so every instance given the same secret recognises it, a restart keeps it,
 * and checking it costs one HMAC, no lookup. A viewer's cookie is signed with
 * another key, so it can never pass for a presenter's. Nothing a client says
 * about its role counts.
 */
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage, OutgoingHttpHeaders } from 'node:http';
import { RateLimiter } from '../rateLimit.ts';

export const SESSION_COOKIE = 'idem_session';
/** A viewer's cookie outlives a talk, not a week. */
const MAX_AGE_SECONDS = 12 * 60 * 60;
/** A presenter cookie's value: `p.<random>.<expiry, seconds in base 36>.<signature>`. */
const PRESENTER_MARK = 'p';

export interface Viewer {
  /** The session id: stable across this browser's pages, reloads and sockets. */
  readonly id: string;
  /**
   * What rate limits count against: the session, once the client has shown its
   * cookie back. A client that keeps no cookies gets a fresh session per request;
   * those share one bucket per address, so dropping the cookie buys no new budget.
   */
  readonly limitKey: string;
  /** The cookie to send back, when this request got a new session. */
  readonly setCookie: string | null;
  /** The request carried `Authorization: Bearer <presenter secret>` (scripts, tests). */
  readonly bearer: boolean;
  /** The session's cookie is a presenter cookie the server signed, not yet expired. */
  readonly presenter: boolean;
}

export class Sessions {
  /**
   * Sign ids, one key per role. Derived from the presenter secret, so every instance
   * behind a load balancer (all given the same secret) accepts the others' cookies;
   * a secret generated at start makes old cookies new sessions after a restart.
   */
  private readonly viewerKey: Buffer;
  private readonly presenterKey: Buffer;
  private readonly known = new WeakMap<IncomingMessage, Viewer>();
  /** New sessions per address: a hall joining at once fits, a script minting sessions does not. */
  private readonly issuing = new RateLimiter(20, 2000);

  constructor(private readonly presenterSecret: string) {
    this.viewerKey = deriveKey(presenterSecret, 'viewer');
    this.presenterKey = deriveKey(presenterSecret, 'presenter');
  }

  /** The viewer a request (page, API call or socket handshake) belongs to; remembered per request. */
  identify(req: IncomingMessage): Viewer {
    const cached = this.known.get(req);
    if (cached) return cached;
    // A script may prove the presenter on each request instead of holding a cookie.
    const bearer = this.bearerMatches(req.headers.authorization);
    const cookie = readCookie(req.headers.cookie, SESSION_COOKIE);
    const presenter = this.verifyPresenter(cookie);
    const presented = presenter ?? this.verify(cookie);
    let viewer: Viewer;
    if (presented) {
      viewer = { id: presented, limitKey: `session:${presented}`, setCookie: null, bearer, presenter: presenter !== null };
    } else {
      const address = req.socket.remoteAddress ?? 'unknown';
      const id = this.issue();
      const setCookie = this.issuing.take(address) ? sessionCookie(id, { secure: isSecure(req), strict: false }) : null;
      viewer = { id, limitKey: `anon:${address}`, setCookie, bearer, presenter: false };
    }
    this.known.set(req, viewer);
    return viewer;
  }

  isPresenter(viewer: Viewer): boolean {
    return viewer.bearer || viewer.presenter;
  }

  /** Whether `token` is the presenter secret (constant time). */
  tokenMatches(token: string | undefined): boolean {
    if (!token) return false;
    const given = Buffer.from(token);
    const secret = Buffer.from(this.presenterSecret);
    return given.length === secret.length && timingSafeEqual(given, secret);
  }

  bearerMatches(header: string | undefined): boolean {
    return header !== undefined && header.startsWith('Bearer ') && this.tokenMatches(header.slice(7));
  }

  /**
   * A new presenter session for a browser that proved the secret: a fresh id (never
   * one the browser held before), signed as a presenter's until it expires (with the
   * cookie: a copied value stops counting then too), in a SameSite=Strict cookie.
   */
  startPresenter(req: IncomingMessage): { id: string; setCookie: string } {
    const random = randomBytes(18).toString('base64url');
    const expires = (Math.floor(Date.now() / 1000) + MAX_AGE_SECONDS).toString(36);
    const id = `${PRESENTER_MARK}.${random}.${expires}.${sign(this.presenterKey, `${random}.${expires}`)}`;
    return { id, setCookie: sessionCookie(id, { secure: isSecure(req), strict: true }) };
  }

  /** Sets the cookie of a request that got a new session, on an HTTP response or socket.io's handshake headers. */
  static applyCookie(viewer: Viewer, headers: { setHeader(name: string, value: string): unknown } | OutgoingHttpHeaders): void {
    if (!viewer.setCookie) return;
    if (typeof (headers as { setHeader?: unknown }).setHeader === 'function') {
      (headers as { setHeader(name: string, value: string): unknown }).setHeader('Set-Cookie', viewer.setCookie);
    } else {
      (headers as OutgoingHttpHeaders)['set-cookie'] = viewer.setCookie;
    }
  }

  sweep(): void {
    this.issuing.sweep();
  }

  private issue(): string {
    const random = randomBytes(18).toString('base64url');
    return `${random}.${sign(this.viewerKey, random)}`;
  }

  /** A viewer cookie's value when the server signed it, else null. */
  private verify(value: string | undefined): string | null {
    if (!value || value.length > 100) return null;
    const [random, signature, extra] = value.split('.');
    if (!random || !signature || extra !== undefined) return null;
    return signatureMatches(sign(this.viewerKey, random), signature) ? value : null;
  }

  /** A presenter cookie's value when the server signed it and it has not expired, else null. */
  private verifyPresenter(value: string | undefined): string | null {
    if (!value || value.length > 100) return null;
    const [mark, random, expires, signature, extra] = value.split('.');
    if (mark !== PRESENTER_MARK || !random || !expires || !signature || extra !== undefined) return null;
    if (!/^[0-9a-z]{1,10}$/.test(expires) || parseInt(expires, 36) * 1000 <= Date.now()) return null;
    return signatureMatches(sign(this.presenterKey, `${random}.${expires}`), signature) ? value : null;
  }
}

/** The key that signs one role's cookies: a viewer's key never makes a presenter's signature. */
function deriveKey(presenterSecret: string, role: 'viewer' | 'presenter'): Buffer {
  return createHmac('sha256', presenterSecret).update(`idem ${role} session cookies`).digest();
}

function sign(key: Buffer, payload: string): string {
  return createHmac('sha256', key).update(payload).digest('base64url').slice(0, 22);
}

function signatureMatches(expected: string, given: string): boolean {
  const a = Buffer.from(expected);
  const b = Buffer.from(given);
  return a.length === b.length && timingSafeEqual(a, b);
}

function sessionCookie(id: string, options: { secure: boolean; strict: boolean }): string {
  return [
    `${SESSION_COOKIE}=${id}`,
    'Path=/',
    'HttpOnly',
    `SameSite=${options.strict ? 'Strict' : 'Lax'}`,
    `Max-Age=${MAX_AGE_SECONDS}`,
    ...(options.secure ? ['Secure'] : []),
  ].join('; ');
}

function isSecure(req: IncomingMessage): boolean {
  return (req.socket as { encrypted?: boolean }).encrypted === true;
}

export function readCookie(header: string | undefined, name: string): string | undefined {
  if (!header) return undefined;
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    if (eq < 0) continue;
    if (part.slice(0, eq).trim() === name) return part.slice(eq + 1).trim();
  }
  return undefined;
}
