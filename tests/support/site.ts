/**
 * The whole site, started for a test: real HTTP, real socket.io, and a private
 * redis-server of its own on a free port (never the machine's shared Redis),
 * with every log line captured for assertions.
 */
import { loadConfig } from '../../server/config.ts';
import { createApp, type App } from '../../server/app.ts';
import { createCapturingLogger } from '../../server/log.ts';
import { AudiencePanel } from '../../server/protocol.ts';

export const PRESENTER_SECRET = 'test-presenter-secret';

/**
 * Rate limits out of the way, for tests that send dozens of actions from one viewer
 * (bad-input tables, garbage events): what they check is not the limit.
 */
export const GENEROUS_LIMITS: Record<string, string> = {
  VIEWER_ACTIONS_PER_SECOND: '1000',
  VIEWER_ACTION_BURST: '1000',
  PANEL_ACTIONS_PER_SECOND: '10000',
  PANEL_ACTION_BURST: '10000',
};

export interface Site extends App {
  /** Every structured log line the server wrote. */
  logLines: string[];
}

export async function startSite(env: Record<string, string> = {}, options: { deck?: boolean } = {}): Promise<Site> {
  const { logger, lines } = createCapturingLogger();
  // No task workers unless a test asks for them (TASK_WORKERS): forking them is slow, and most tests don't run evals.
  const config = loadConfig({ PORT: '0', HOST: '127.0.0.1', PRESENTER_SECRET, TASK_WORKERS: '0', ...env }, []);
  const app = await createApp(config, { log: logger, ...(options.deck ? {} : { distDir: null }) });
  return Object.assign(app, { logLines: lines });
}

/**
 * Opens every panel to the audience, as the presenter does when its slide comes: for
 * tests of what a viewer's action does (the hall's own tests check the closed case).
 */
export function openAllPanels(site: Site): void {
  for (const panel of AudiencePanel.options) site.hall.deck.setOpen(panel, true);
}

/**
 * A new viewer session, as a browser gets one with its first page: the `Cookie`
 * header value to send with requests and socket handshakes (`extraHeaders`).
 */
export async function newViewerSession(site: { url: string }): Promise<string> {
  const response = await fetch(`${site.url}/healthz`);
  await response.arrayBuffer();
  const setCookie = response.headers.get('set-cookie');
  if (!setCookie) throw new Error('the site issued no session cookie');
  return setCookie.split(';')[0] ?? '';
}

export async function api<T = unknown>(site: { url: string }, method: string, path: string, body?: unknown, headers: Record<string, string> = {}) {
  const response = await fetch(`${site.url}${path}`, {
    method,
    // A state-changing request says it is JSON even with no body, as the site's own pages do.
    headers: { ...(body === undefined && method === 'GET' ? {} : { 'content-type': 'application/json' }), ...headers },
    body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
  });
  return { status: response.status, body: (await response.json()) as T };
}
