/**
 * First load of the deck, cold, in a real Chromium: compressed bytes needed before
 * the first slide is ready, and the time until it is ready, on loopback and on the
 * hall's Wi-Fi (1.6 Mbit/s, 150 ms round trip, Chromium's own throttling). What
 * "ready" means, and how bytes are counted: tools/firstLoad.ts.
 *
 *   npm run bench:first-load -- [--runs 5] [--baseline <git revision>] [--no-write]
 *
 * The deck is built from this tree into a temporary folder and served by the real
 * server (private Redis, no task workers). With --baseline, that revision's deck is
 * built too and measured in the same run, loads alternating with ours, so both see
 * the same machine. Results go to the console and, unless --no-write, into the
 * "First load" section of docs/BENCHMARKS.md.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync, mkdirSync } from 'node:fs';
import { cpus, freemem, loadavg, totalmem, tmpdir, type as osType, release } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { build } from 'vite';
import type { Browser } from 'playwright-core';
import { createApp, type App } from '../server/app.ts';
import { loadConfig } from '../server/config.ts';
import { createLogger } from '../server/log.ts';
import { launchBrowser } from '../tools/browser.ts';
import { HALL_WIFI, measureFirstLoad, type FirstLoad, type LinkConditions } from '../tools/firstLoad.ts';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const REPORT = join(ROOT, 'docs', 'BENCHMARKS.md');
const SECTION_START = '<!-- first-load:start -->';
const SECTION_END = '<!-- first-load:end -->';

const { values: args } = parseArgs({
  options: {
    runs: { type: 'string', default: '5' },
    baseline: { type: 'string' },
    'no-write': { type: 'boolean', default: false },
  },
});
const RUNS = Math.max(1, Number(args.runs));

interface Deck {
  name: string;
  app: App;
  cleanup(): void;
}

interface Variant {
  deck: Deck;
  label: string;
  /** Sent instead of Chromium's own Accept-Encoding; undefined keeps Chromium's. */
  acceptEncoding?: string;
  viewport: { width: number; height: number };
  /** A second visit: the context has loaded the deck once (cache filled). */
  repeatVisit?: boolean;
  /** CPU slowdown factor, for a phone's slower processor. */
  cpuSlowdown?: number;
}

const LAPTOP = { width: 1280, height: 800 };
const PHONE = { width: 390, height: 844 };

async function buildDeck(sourceRoot: string): Promise<string> {
  const outDir = mkdtempSync(join(tmpdir(), 'first-load-dist-'));
  await build({ configFile: join(sourceRoot, 'vite.config.ts'), logLevel: 'error', build: { outDir, emptyOutDir: true } });
  return outDir;
}

async function serveDeck(name: string, distDir: string, extraCleanup: () => void = () => {}): Promise<Deck> {
  const config = loadConfig({ PORT: '0', HOST: '127.0.0.1', TASK_WORKERS: '0', LOG_LEVEL: 'error' }, []);
  const app = await createApp(config, { distDir, log: createLogger({ level: 'error' }) });
  return {
    name,
    app,
    cleanup: () => {
      rmSync(distDir, { recursive: true, force: true });
      extraCleanup();
    },
  };
}

/** That revision's sources in a temporary folder (sharing this tree's node_modules), its deck built. */
async function baselineDeck(revision: string): Promise<Deck> {
  const source = mkdtempSync(join(tmpdir(), 'first-load-baseline-'));
  const archive = execFileSync('git', ['archive', '--format=tar', revision], { cwd: ROOT, maxBuffer: 256 * 1024 * 1024 });
  execFileSync('tar', ['-x', '-C', source], { input: archive });
  symlinkSync(join(ROOT, 'node_modules'), join(source, 'node_modules'), 'dir');
  const short = execFileSync('git', ['rev-parse', '--short', revision], { cwd: ROOT, encoding: 'utf8' }).trim();
  const distDir = await buildDeck(source);
  return serveDeck(`before (${short})`, distDir, () => rmSync(source, { recursive: true, force: true }));
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
}

interface Row {
  variant: string;
  link: string;
  codings: string;
  jsCssBytes: number;
  allBytes: number;
  requests: number;
  readyEventMs: number;
  readyMs: number;
  keyToSlideMs: number;
  runs: number;
}

function summarize(variant: Variant, link: string, loads: FirstLoad[]): Row {
  const before = (load: FirstLoad) => load.resources.filter((resource) => resource.beforeReady);
  const codings = new Set(loads.flatMap((load) => before(load).filter((r) => r.type === 'script' || r.type === 'stylesheet').map((r) => r.coding || 'none')));
  return {
    variant: variant.label,
    link,
    codings: [...codings].join('+'),
    jsCssBytes: median(loads.map((load) => load.bytesBeforeReady.script + load.bytesBeforeReady.stylesheet)),
    allBytes: median(loads.map((load) => Object.values(load.bytesBeforeReady).reduce((a, b) => a + b, 0))),
    requests: median(loads.map((load) => before(load).length)),
    readyEventMs: median(loads.map((load) => load.readyEventMs)),
    readyMs: median(loads.map((load) => load.readyMs)),
    keyToSlideMs: median(loads.map((load) => load.keyToSlideMs)),
    runs: loads.length,
  };
}

const kb = (bytes: number) => `${(bytes / 1000).toFixed(1)} KB`;
const ms = (value: number) => `${Math.round(value)} ms`;

function table(rows: Row[]): string {
  const lines = [
    '| deck | link | JS+CSS coding | JS+CSS before ready | all bytes before ready | requests | `ready` event | **ready (painted)** | key → next slide |',
    '|---|---|---|---|---|---|---|---|---|',
  ];
  for (const row of rows) {
    lines.push(
      `| ${row.variant} | ${row.link} | ${row.codings} | ${kb(row.jsCssBytes)} | ${kb(row.allBytes)} | ${row.requests} | ${ms(row.readyEventMs)} | **${ms(row.readyMs)}** | ${ms(row.keyToSlideMs)} |`,
    );
  }
  return lines.join('\n');
}

async function main(): Promise<void> {
  const decks: Deck[] = [];
  let browser: Browser | undefined;
  try {
    console.log('building the deck…');
    const ours = await serveDeck('after', await buildDeck(ROOT));
    decks.push(ours);
    const baseline = args.baseline ? await baselineDeck(args.baseline) : undefined;
    if (baseline) decks.push(baseline);
    browser = await launchBrowser();

    const variants: Variant[] = [
      ...(baseline ? [{ deck: baseline, label: baseline.name, viewport: LAPTOP }] : []),
      { deck: ours, label: 'after, brotli (Chromium on loopback/HTTPS)', viewport: LAPTOP },
      { deck: ours, label: 'after, gzip only (plain HTTP to a LAN address)', acceptEncoding: 'gzip, deflate', viewport: LAPTOP },
      { deck: ours, label: 'after, gzip only, phone 390x844', acceptEncoding: 'gzip, deflate', viewport: PHONE },
      { deck: ours, label: 'after, gzip only, phone 390x844, CPU 4× slower', acceptEncoding: 'gzip, deflate', viewport: PHONE, cpuSlowdown: 4 },
      { deck: ours, label: 'after, second visit (assets from the cache)', viewport: LAPTOP, repeatVisit: true },
    ];
    const links: [string, LinkConditions | undefined][] = [
      ['loopback', undefined],
      [`${HALL_WIFI.bitsPerSecond / 1e6} Mbit/s, ${HALL_WIFI.latencyMs} ms RTT`, HALL_WIFI],
    ];

    const loadBefore = loadavg()[0]!;
    const rows: Row[] = [];
    for (const [linkName, link] of links) {
      const loads = new Map<Variant, FirstLoad[]>(variants.map((variant) => [variant, []]));
      // Round-robin: each run loads every variant once, so machine noise hits them alike.
      for (let run = 0; run < RUNS; run++) {
        for (const variant of variants) {
          const load = await measureFirstLoad(browser, `${variant.deck.app.url}/`, {
            link,
            acceptEncoding: variant.acceptEncoding,
            viewport: variant.viewport,
            repeatVisit: variant.repeatVisit,
            cpuSlowdown: variant.cpuSlowdown,
            timeoutMs: 60_000,
          });
          loads.get(variant)!.push(load);
          console.log(`${linkName} run ${run + 1}/${RUNS} ${variant.label}: ready ${ms(load.readyMs)}, JS+CSS ${kb(load.bytesBeforeReady.script + load.bytesBeforeReady.stylesheet)}`);
        }
      }
      for (const variant of variants) rows.push(summarize(variant, linkName, loads.get(variant)!));
    }

    // The load average matters: the machine is shared, and the CPU part of a load (parsing, Markdown,
    // highlighting, layout) stretches when other work runs beside it.
    const machine =
      `${cpus().length} × ${cpus()[0]?.model ?? 'unknown CPU'}, ${(totalmem() / 2 ** 30).toFixed(1)} GiB RAM (${(freemem() / 2 ** 30).toFixed(1)} free), ` +
      `${osType()} ${release()}, Node ${process.version}, Chromium ${browser.version()}; 1-minute load average ${loadBefore.toFixed(1)} at the start, ${loadavg()[0]!.toFixed(1)} at the end`;
    const command = `npm run bench:first-load -- --runs ${RUNS}${args.baseline ? ` --baseline ${args.baseline}` : ''}`;
    const section = report(rows, machine, command);
    console.log(`\n${section}`);
    if (!args['no-write']) {
      writeSection(section);
      console.log(`\nwritten to ${REPORT}`);
    }
  } finally {
    await browser?.close().catch(() => {});
    for (const deck of decks) {
      await deck.app.close().catch(() => {});
      deck.cleanup();
    }
  }
}

function report(rows: Row[], machine: string, command: string): string {
  return [
    SECTION_START,
    '## First load',
    '',
    `Command: \`${command}\`  `,
    `Machine: ${machine}  `,
    `Measured: ${new Date().toISOString()}, medians of ${rows[0]?.runs ?? 0} loads per row, cold unless the row says otherwise (fresh browser context each: empty cache, no open connections).`,
    '',
    table(rows),
    '',
    '- **ready (painted)**: reveal\'s `ready` event has fired *and* a frame with the first slide\'s heading laid out and visible has been painted after it (two animation frames after `ready`). Times run from navigation start, so they include the HTML\'s own request. Font files may still be arriving: the fonts use `font-display: swap`, so the text shows at once in a fallback face.',
    '- **key → next slide**: the bench presses → as soon as the deck is ready; the time from the key event to reveal\'s `slidechanged`. It shows the page is interactive at that point, not busy.',
    '- **bytes**: `Network.loadingFinished.encodedDataLength` from the DevTools protocol: compressed bytes on the wire, headers included, of the requests made before reveal\'s `ready` event and finished before the first slide was painted. What the page asks for once ready (the speaker view, the panel of the slide after the first) is not counted. "JS+CSS" counts scripts and stylesheets only (the budget is 120 KB); "all" adds the HTML and any font that arrived in time.',
    '- **CPU 4× slower**: Chromium\'s `Emulation.setCPUThrottlingRate` 4, a rough stand-in for a mid-range phone\'s processor. On this shared machine it also multiplies whatever else is running, so read it as an upper bound.',
    '- **second visit**: the same browser context loaded the deck once before; hashed assets are `immutable`, so only the HTML is asked for again (`no-cache`: revalidated, 304).',
    '- The throttled link is Chromium\'s (`Network.emulateNetworkConditions`: 150 ms added to each request, 200 kB/s down and up). Chromium offers brotli on loopback and HTTPS; over plain HTTP to a LAN address it offers gzip only, so that case is measured too.',
    args.baseline ? '- "before" is the given revision\'s deck, built and served by this tree\'s server in the same run (it has no precompressed copies, so it goes out uncompressed, as it did).' : null,
    SECTION_END,
  ]
    .filter((line) => line !== null)
    .join('\n');
}

function writeSection(section: string): void {
  mkdirSync(join(ROOT, 'docs'), { recursive: true });
  const current = existsSync(REPORT) ? readFileSync(REPORT, 'utf8') : '# Benchmarks\n';
  const start = current.indexOf(SECTION_START);
  const end = current.indexOf(SECTION_END);
  const next =
    start >= 0 && end > start
      ? current.slice(0, start) + section + current.slice(end + SECTION_END.length)
      : `${current.trimEnd()}\n\n${section}\n`;
  writeFileSync(REPORT, next);
}

await main();
