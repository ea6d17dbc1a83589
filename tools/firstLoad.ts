/**
 * One cold first load of the deck in a real Chromium, measured through the
 * DevTools protocol: what the browser received before the first slide was ready
 * (compressed bytes on the wire, `Network.loadingFinished.encodedDataLength`,
 * by kind, of the requests made before reveal's `ready` event and finished before
 * the first slide was painted), and when it was ready.
 *
 * "Ready" means all three of:
 *  - reveal's `ready` event fired (slides built, Markdown rendered, code highlighted);
 *  - a frame was painted after it, with the first slide's heading laid out and visible
 *    (two animation frames after `ready`: the first runs before that frame's paint,
 *    the second after it);
 *  - the page answers input: the probe presses → right after, and the time from the
 *    key event to reveal moving to the next slide is reported as `keyToSlideMs`.
 * Times are from navigation start (the page's `performance.now()`), so they include
 * the HTML's own request. Each load gets a fresh browser context: empty cache,
 * no open connections (or, for `repeatVisit`, one that has loaded the deck once).
 */
import type { Browser, CDPSession } from 'playwright-core';

export interface LinkConditions {
  /** Added to every request, as Chromium's throttling does (`Network.emulateNetworkConditions`). */
  latencyMs: number;
  /** Bits per second, down and up. */
  bitsPerSecond: number;
}

/** The hall's Wi-Fi the goals are set for: 1.6 Mbit/s, 150 ms round trip. */
export const HALL_WIFI: LinkConditions = { latencyMs: 150, bitsPerSecond: 1_600_000 };

export interface LoadedResource {
  url: string;
  type: string;
  /** Content-Encoding the server answered with ('' when none). */
  coding: string;
  /** Bytes on the wire, headers included, as Chromium counts them. */
  encodedBytes: number;
  /** Requested before reveal's `ready` event and finished before the first slide was painted. */
  beforeReady: boolean;
}

export interface FirstLoad {
  /** reveal's `ready` event, ms from navigation start. */
  readyEventMs: number;
  /** The first frame painted after it, with the first slide showing: "ready" in this project's figures. */
  readyMs: number;
  /** A → pressed once ready: from the browser taking the key in to reveal's `slidechanged`. Small when the page is interactive. */
  keyToSlideMs: number;
  resources: LoadedResource[];
  /** Compressed bytes that arrived before ready, by kind. */
  bytesBeforeReady: { script: number; stylesheet: number; document: number; font: number; other: number };
}

/**
 * Set up in the page before any of its scripts: notes when the deck is ready and painted.
 * Plain JavaScript in a string: a function would be compiled by tsx, whose name-keeping
 * helpers do not exist in the page.
 */
const READY_PROBE = `(() => {
  const probe = { readyEventAt: null, paintedAt: null, keyAt: null, slideChangedAt: null };
  window.__firstLoad = probe;
  // When the browser took the key press in (the event's own time), not when a handler got to it.
  window.addEventListener('keydown', (event) => { probe.keyAt ??= event.timeStamp; }, true);
  let deck;
  // slides/main.ts sets window.Reveal before it initialises the deck: hook its events then.
  Object.defineProperty(window, 'Reveal', {
    configurable: true,
    enumerable: true,
    get: () => deck,
    set(value) {
      deck = value;
      value.on('slidechanged', () => { probe.slideChangedAt ??= performance.now(); });
      value.on('ready', () => {
        probe.readyEventAt = performance.now();
        const painted = () => {
          const heading = document.querySelector('.reveal .slides section.present h1, .reveal .slides section.present h2');
          const box = heading ? heading.getBoundingClientRect() : null;
          if (heading && box.width > 0 && box.height > 0 && heading.checkVisibility()) probe.paintedAt = performance.now();
          else requestAnimationFrame(painted);
        };
        requestAnimationFrame(() => requestAnimationFrame(painted));
      });
    },
  });
})();`;

interface Pending {
  url: string;
  type: string;
  coding: string;
  /** When Chromium issued the request (its monotonic clock, seconds). */
  sentAt: number;
}

export async function measureFirstLoad(
  browser: Browser,
  url: string,
  options: {
    link?: LinkConditions;
    acceptEncoding?: string;
    timeoutMs?: number;
    viewport?: { width: number; height: number };
    /** Measure a second visit instead: the same browser context has loaded the deck once already (its cache filled). */
    repeatVisit?: boolean;
    /** Slow the page's CPU down this many times (`Emulation.setCPUThrottlingRate`), as on a phone. */
    cpuSlowdown?: number;
  } = {},
): Promise<FirstLoad> {
  const timeoutMs = options.timeoutMs ?? 30_000;
  const context = await browser.newContext({ viewport: options.viewport ?? { width: 1280, height: 800 } });
  try {
    const page = await context.newPage();
    page.setDefaultTimeout(timeoutMs);
    await page.addInitScript(READY_PROBE);
    const cdp: CDPSession = await context.newCDPSession(page);
    await cdp.send('Network.enable');
    await cdp.send('Network.setCacheDisabled', { cacheDisabled: false });
    if (options.acceptEncoding !== undefined) {
      await cdp.send('Network.setExtraHTTPHeaders', { headers: { 'Accept-Encoding': options.acceptEncoding } });
    }
    if (options.link) {
      const bytesPerSecond = options.link.bitsPerSecond / 8;
      await cdp.send('Network.emulateNetworkConditions', {
        offline: false,
        latency: options.link.latencyMs,
        downloadThroughput: bytesPerSecond,
        uploadThroughput: bytesPerSecond,
      });
    }

    if (options.cpuSlowdown && options.cpuSlowdown > 1) {
      await cdp.send('Emulation.setCPUThrottlingRate', { rate: options.cpuSlowdown });
    }
    if (options.repeatVisit) {
      await page.goto(url, { waitUntil: 'commit' });
      await page.waitForFunction(() => (window as unknown as { __firstLoad: { paintedAt: number | null } }).__firstLoad.paintedAt !== null);
      // Leave only once the fonts the first slide asked for have arrived: a font still in flight is
      // not in the cache yet, and the second visit would fetch it again for a reason that is not the server's.
      await page.waitForLoadState('load');
      await page.evaluate(() => document.fonts.ready.then(() => undefined));
      await page.goto('about:blank');
    }

    // Chromium's network timestamps are on a monotonic clock; the page's on the wall clock.
    // requestWillBeSent carries both, which gives the offset between the two.
    let wallMinusMonotonic: number | null = null;
    const pending = new Map<string, Pending>();
    const finished: { pending: Pending; encodedBytes: number; at: number }[] = [];
    cdp.on('Network.requestWillBeSent', (event) => {
      wallMinusMonotonic ??= event.wallTime - event.timestamp;
      pending.set(event.requestId, { url: event.request.url, type: (event.type ?? 'Other').toLowerCase(), coding: '', sentAt: event.timestamp });
    });
    cdp.on('Network.responseReceived', (event) => {
      const entry = pending.get(event.requestId);
      if (!entry) return;
      const headers = Object.fromEntries(Object.entries(event.response.headers).map(([name, value]) => [name.toLowerCase(), String(value)]));
      entry.coding = headers['content-encoding'] ?? '';
    });
    cdp.on('Network.loadingFinished', (event) => {
      const entry = pending.get(event.requestId);
      if (entry) finished.push({ pending: entry, encodedBytes: event.encodedDataLength, at: event.timestamp });
    });

    await page.goto(url, { waitUntil: 'commit' });
    await page.waitForFunction(() => (window as unknown as { __firstLoad: { paintedAt: number | null } }).__firstLoad.paintedAt !== null);
    await page.keyboard.press('ArrowRight');
    await page.waitForFunction(() => (window as unknown as { __firstLoad: { slideChangedAt: number | null } }).__firstLoad.slideChangedAt !== null);
    const probe = await page.evaluate(() => {
      const { readyEventAt, paintedAt, keyAt, slideChangedAt } = (window as unknown as { __firstLoad: Record<string, number> }).__firstLoad;
      return { readyEventAt, paintedAt, keyAt, slideChangedAt, timeOrigin: performance.timeOrigin };
    });
    const offset = wallMinusMonotonic ?? 0;
    const readyEventAt = (probe.timeOrigin + probe.readyEventAt!) / 1000 - offset;
    const paintedAt = (probe.timeOrigin + probe.paintedAt!) / 1000 - offset;

    const resources: LoadedResource[] = finished.map(({ pending: entry, encodedBytes, at }) => ({
      url: entry.url,
      type: entry.type,
      coding: entry.coding,
      encodedBytes,
      // Asked for before reveal was ready, and there before the first slide was painted. What the page
      // asks for once ready (the speaker view, the next slide's panel) is not counted, even when on
      // loopback it arrives within the two frames; nor is a font still on its way (text shows without it).
      beforeReady: entry.sentAt <= readyEventAt && at <= paintedAt,
    }));
    const bytesBeforeReady = { script: 0, stylesheet: 0, document: 0, font: 0, other: 0 };
    for (const resource of resources) {
      if (!resource.beforeReady) continue;
      const kind = resource.type in bytesBeforeReady ? (resource.type as keyof typeof bytesBeforeReady) : 'other';
      bytesBeforeReady[kind] += resource.encodedBytes;
    }
    return {
      readyEventMs: probe.readyEventAt!,
      readyMs: probe.paintedAt!,
      keyToSlideMs: probe.slideChangedAt! - probe.keyAt!,
      resources,
      bytesBeforeReady,
    };
  } finally {
    await context.close();
  }
}
