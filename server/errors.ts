/**
 * One mapping from what went wrong to what a client is told, shared by the HTTP
 * routes and the socket handlers so both say the same thing for the same fault.
 */
import { z } from 'zod';
import type { ApiError, ErrorCode } from './protocol.ts';
import { PoolInputError } from './pool/executorPool.ts';

export class ClientError extends Error {
  constructor(
    readonly code: ErrorCode,
    message: string,
  ) {
    super(message);
  }
}

const STATUS: Record<ErrorCode, number> = {
  bad_request: 400,
  unsupported_media_type: 415,
  forbidden: 403,
  not_found: 404,
  pool_empty: 409,
  rate_limited: 429,
  stage_busy: 429,
  redis_unavailable: 503,
  internal: 500,
};

export function httpStatus(code: ErrorCode): number {
  return STATUS[code];
}

export function parseOrThrow<T>(schema: z.ZodType<T>, input: unknown): T {
  const parsed = schema.safeParse(input);
  if (!parsed.success) {
    const message = parsed.error.issues.map((i) => (i.path.length ? `${i.path.join('.')}: ${i.message}` : i.message)).join('; ');
    throw new ClientError('bad_request', message);
  }
  return parsed.data;
}

/** What the client sees for any error; anything unexpected is logged by the caller and reported vaguely. */
export function toApiError(error: unknown): ApiError {
  if (error instanceof ClientError) return { error: error.code, message: error.message };
  if (error instanceof PoolInputError) return { error: 'bad_request', message: error.message };
  const message = error instanceof Error ? error.message : String(error);
  if (/ECONNREFUSED|Connection is closed|MaxRetriesPerRequest|ETIMEDOUT|Stream isn't writeable|Command timed out|NOAUTH|WRONGPASS|LOADING/i.test(message)) {
    return { error: 'redis_unavailable', message: 'Redis is not answering' };
  }
  return { error: 'internal', message: 'internal error' };
}
