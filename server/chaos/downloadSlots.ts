/**
 * How many chaos-history downloads are written at once: a few for the whole
 * audience, one per viewer session, and the presenter's own never counted nor
 * refused. A download holds its slot until its response has closed (sent, or the
 * client gone), so a client asking over and over gets `rate_limited`, not a queue
 * of megabytes waiting for its socket. Only sessions with a download in flight are
 * remembered.
 */
import { ClientError } from '../errors.ts';

export const AUDIENCE_DOWNLOADS_AT_ONCE = 4;

export class DownloadSlots {
  private inFlight = 0;
  private readonly sessions = new Set<string>();

  constructor(private readonly atOnce = AUDIENCE_DOWNLOADS_AT_ONCE) {}

  /** Takes a slot for `session`, or throws `rate_limited`; returns the release (safe to call twice). */
  take(session: string, presenter: boolean): () => void {
    if (presenter) return () => {};
    if (this.sessions.has(session)) throw new ClientError('rate_limited', 'your download of this history is still going: wait for it to finish');
    if (this.inFlight >= this.atOnce) throw new ClientError('rate_limited', 'the history is being downloaded by others: try again in a moment');
    this.inFlight++;
    this.sessions.add(session);
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.inFlight--;
      this.sessions.delete(session);
    };
  }
}
