/**
 * The address a request came from, as Express' `req.ip` reads it: the socket's peer,
 * or, behind proxies the operator trusts (`TRUST_PROXY`), the client they name in
 * X-Forwarded-For. For requests Express never sees too (socket.io's handshakes), so
 * a session minted on either is counted against the same address.
 */
import { createRequire } from 'node:module';
import type { IncomingMessage } from 'node:http';

type Trust = (address: string, hop: number) => boolean;
// Express' own parser of X-Forwarded-For (a dependency of Express; it ships no types).
const proxyaddr = createRequire(import.meta.url)('proxy-addr') as {
  (req: IncomingMessage, trust: Trust): string;
  compile(addresses: string[]): Trust;
};

/** Express' `trust proxy` setting as a function: what `app.set('trust proxy', value)` compiles. */
export function compileTrust(value: boolean | number | string): Trust {
  if (value === true) return () => true;
  if (value === false) return () => false;
  if (typeof value === 'number') return (_address, hop) => hop < value;
  return proxyaddr.compile(value.split(',').map((part) => part.trim()));
}

export function clientAddress(req: IncomingMessage, trust: Trust): string {
  if (!req.socket.remoteAddress) return 'unknown';
  return proxyaddr(req, trust);
}
