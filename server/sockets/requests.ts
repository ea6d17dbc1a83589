/**
 * The one way a socket event that asks for something is handled: parse the
 * request by its schema, check who may do it (the viewer session behind the
 * socket, read from its handshake cookie, never from anything the client says),
 * and answer through the ack. A client may send no payload (socket.io then hands
 * the ack over first) or no ack at all (then we just act): neither may hang or
 * crash anything.
 */
import type { Socket } from 'socket.io';
import type { z } from 'zod';
import type { Ack, AudiencePanel, ClientToServerEvents } from '../protocol.ts';
import { parseOrThrow, toApiError } from '../errors.ts';
import type { Gate } from '../hall/gate.ts';
import type { Logger } from '../log.ts';
import type { Viewer } from '../session/sessions.ts';

export interface RequestHandlerDeps {
  gate: Gate;
  log: Logger;
}

/**
 * Who may send an event: anyone (watching, following), the presenter only, or the
 * audience of the panel the request belongs to (open, within the limits).
 */
export type Access<R> = 'anyone' | 'presenter' | ((request: R) => AudiencePanel);

export function onRequest<R, T>(
  socket: Socket,
  deps: RequestHandlerDeps,
  event: keyof ClientToServerEvents,
  schema: z.ZodType<R>,
  options: { access: Access<R> },
  handler: (request: R, viewer: Viewer) => Promise<T> | T,
): void {
  socket.on(event, async (...args: unknown[]) => {
    const ack = args.at(-1);
    const request = typeof args[0] === 'function' ? undefined : args[0];
    const reply = typeof ack === 'function' ? (ack as (result: Ack<T>) => void) : () => {};
    try {
      const parsed = parseOrThrow(schema, request ?? {});
      const viewer = deps.gate.viewerOf(socket.request);
      const { access } = options;
      if (access === 'presenter') deps.gate.requirePresenter(viewer);
      else if (access !== 'anyone') await deps.gate.audience(viewer, access(parsed));
      reply({ ok: true, data: await handler(parsed, viewer) });
    } catch (error) {
      const apiError = toApiError(error);
      if (apiError.error === 'internal') deps.log.error('socket event failed', { event, error: String(error) });
      reply({ ok: false, ...apiError });
    }
  });
}
