/**
 * Who is asking: every browser is a viewer session, named by a random id in an
 * HttpOnly cookie the server signs, so a client cannot make up ids of its own.
 * The same cookie names a browser's page requests and every socket it opens,
 * which is what rate limits count against: a hall shares one NAT address, so a
 * viewer is a session, never an IP or a socket.
 *
 * A viewer's cookie is signed with a random key that owes nothing to the presenter
 * secret (kept in Redis, so every instance behind a load balancer shares it:
 * sessionKey.ts): every visitor holds a signed value, and a key derived from the
 * secret would let anyone test guesses of the secret offline against it.
 *
 * The presenter is a session whose cookie the server signed as a presenter's,
 * after the browser proved the secret (the presenter link), or a request with
 * `Authorization: Bearer`. The role is in what the server signs, with a key derived
 * from the secret by scrypt (slow on purpose: a stolen presenter cookie is no cheap
 * test of guesses either), so every instance given the same secret recognises it, a
 * restart keeps it, and checking it costs one HMAC, no lookup. It holds until the
 * cookie's expiry, checked on every action, not only when a socket connects. A
 * viewer's cookie is signed with another key, so it can never pass for a
 * presenter's. Nothing a client says about its role counts.
 */
import { createHmac, randomBytes, scryptSync, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage, OutgoingHttpHeaders } from 'node:http';
import { RateLimiter } from '../rateLimit.ts';
import { clientAddress, compileTrust } from './clientAddress.ts';

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
  /** Until when (ms) the session's cookie is a presenter cookie the server signed; 0 for a viewer's. */
  readonly presenterUntil: number;
  /** The request showed a cookie the server signed (a session it has seen before), not a new one. */
  readonly returning: boolean;
}

export interface SessionOptions {
  /** Signs viewer cookies; every instance behind one load balancer must be given the same (sessionKey.ts). Default: random. */
  viewerKey?: Buffer;
  /** Express' `trust proxy` (TRUST_PROXY): whose X-Forwarded-For names the address a session is minted for. */
  trustProxy?: boolean | number | string;
  now?: () => number;
}

/**
 * New sessions per address: a hall behind one NAT joining at once fits in the burst;
 * past it, a script dropping its cookie gets no fresh budget, only the address' shared one.
 */
const SESSIONS_PER_ADDRESS_BURST = 600;
const SESSIONS_PER_ADDRESS_PER_SECOND = 2;

export class Sessions {
  /** Signs viewer ids: random, shared by the instances through Redis. */
  private viewerKey: Buffer;
  /** Signs presenter ids: derived from the secret, so every instance given it agrees with no shared state. */
  private readonly presenterKey: Buffer;
  private readonly known = new WeakMap<IncomingMessage, Viewer>();
  private readonly issuing: RateLimiter;
  private readonly trust: ReturnType<typeof compileTrust>;
  private readonly now: () => number;

  constructor(
    private readonly presenterSecret: string,
    options: SessionOptions = {},
  ) {
    this.viewerKey = options.viewerKey ?? randomBytes(32);
    this.presenterKey = presenterKeyOf(presenterSecret);
    this.trust = compileTrust(options.trustProxy ?? false);
    this.now = options.now ?? (() => Date.now());
    this.issuing = new RateLimiter(SESSIONS_PER_ADDRESS_PER_SECOND, SESSIONS_PER_ADDRESS_BURST, this.now);
  }

  /** Takes the key the other instances sign viewer cookies with (after Redis came back with another one). */
  useViewerKey(key: Buffer): void {
    this.viewerKey = key;
  }

  /** The viewer a request (page, API call or socket handshake) belongs to; remembered per request. */
  identify(req: IncomingMessage): Viewer {
    const cached = this.known.get(req);
    if (cached) return cached;
    // A script may prove the presenter on each request instead of holding a cookie.
    const bearer = this.bearerMatches(req.headers.authorization);
    const cookie = readCookie(req.headers.cookie, SESSION_COOKIE);
    const presenterUntil = this.verifyPresenter(cookie);
    const presented = presenterUntil > 0 ? cookie! : this.verify(cookie);
    let viewer: Viewer;
    if (presented) {
      viewer = { id: presented, limitKey: `session:${presented}`, setCookie: null, bearer, presenterUntil, returning: true };
    } else {
      const address = clientAddress(req, this.trust);
      const id = this.issue();
      const setCookie = this.issuing.take(address) ? sessionCookie(id, { secure: isSecure(req), strict: false }) : null;
      viewer = { id, limitKey: `anon:${address}`, setCookie, bearer, presenterUntil: 0, returning: false };
    }
    this.known.set(req, viewer);
    return viewer;
  }

  /** Asked on every action: a socket opened with a presenter cookie stops being the presenter's when the cookie expires. */
  isPresenter(viewer: Viewer): boolean {
    return viewer.bearer || viewer.presenterUntil > this.now();
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
    const expires = (Math.floor(this.now() / 1000) + MAX_AGE_SECONDS).toString(36);
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

  /** Until when (ms) a presenter cookie holds, when the server signed it and it has not expired; else 0. */
  private verifyPresenter(value: string | undefined): number {
    if (!value || value.length > 100) return 0;
    const [mark, random, expires, signature, extra] = value.split('.');
    if (mark !== PRESENTER_MARK || !random || !expires || !signature || extra !== undefined) return 0;
    const until = /^[0-9a-z]{1,10}$/.test(expires) ? parseInt(expires, 36) * 1000 : 0;
    if (until <= this.now()) return 0;
    return signatureMatches(sign(this.presenterKey, `${random}.${expires}`), signature) ? until : 0;
  }
}

/**
 * The key that signs presenter cookies, from the secret by scrypt: about 50 ms and
 * 16 MB once at start, and as much for each guess of anyone holding a presenter cookie.
 * Remembered per secret, so a process that builds several servers pays it once.
 */
const presenterKeys = new Map<string, Buffer>();
function presenterKeyOf(presenterSecret: string): Buffer {
  let key = presenterKeys.get(presenterSecret);
  if (!key) {
    key = scryptSync(presenterSecret, 'idem presenter session cookies', 32, { N: 2 ** 14, r: 8, p: 1 });
    presenterKeys.set(presenterSecret, key);
  }
  return key;
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
