/**
 * The one way a socket event that asks for something is handled: parse the
 * request by its schema, apply the viewer's rate limit when it acts, and answer
 * through the ack. A client may send no payload (socket.io then hands the ack over
 * first) or no ack at all (then we just act): neither may hang or crash anything.
 */
import type { Socket } from 'socket.io';
import type { z } from 'zod';
import type { Ack, ClientToServerEvents } from '../protocol.ts';
import { ClientError, parseOrThrow, toApiError } from '../errors.ts';
import type { Logger } from '../log.ts';
import type { RateLimiter } from '../rateLimit.ts';

export interface RequestHandlerDeps {
  viewerLimiter: RateLimiter;
  log: Logger;
}

export function onRequest<R, T>(
  socket: Socket,
  deps: RequestHandlerDeps,
  event: keyof ClientToServerEvents,
  schema: z.ZodType<R>,
  options: { limited: boolean },
  handler: (request: R) => Promise<T> | T,
): void {
  socket.on(event, async (...args: unknown[]) => {
    const ack = args.at(-1);
    const request = typeof args[0] === 'function' ? undefined : args[0];
    const reply = typeof ack === 'function' ? (ack as (result: Ack<T>) => void) : () => {};
    try {
      if (options.limited && !deps.viewerLimiter.take(`socket:${socket.id}`)) {
        throw new ClientError('rate_limited', 'too many actions: slow down');
      }
      reply({ ok: true, data: await handler(parseOrThrow(schema, request ?? {})) });
    } catch (error) {
      const apiError = toApiError(error);
      if (apiError.error === 'internal') deps.log.error('socket event failed', { event, error: String(error) });
      reply({ ok: false, ...apiError });
    }
  });
}
