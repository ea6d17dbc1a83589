/**
 * A failed request in plain words, for the failures that read the same whatever
 * was asked; null for the others (a rate limit, a timeout, an empty pool, an
 * internal error), which each panel words for what its buttons do.
 */
import type { ApiError } from '../server/protocol.ts';
import type { LocalFailure } from './connection.ts';

export function commonFailureText(failure: ApiError | LocalFailure): string | null {
  switch (failure.error) {
    case 'bad_request':
      return `The server refused the request: ${failure.message}`;
    case 'redis_unavailable':
      return 'Redis is not answering right now. Try again in a moment.';
    case 'forbidden':
      return `Not allowed: ${failure.message}`;
    case 'offline':
      return 'Not connected to the server: the buttons come back with the connection.';
    default:
      return null;
  }
}
