/**
 * `npm run bench:click`: from a click on the Lua panel's buttons to the panel
 * showing Redis' reply, in a real browser (Chromium), p50/p99 over 100 clicks
 * (Allocate and Release once, alternately). Timed inside the page: the click
 * event is dispatched at t0, the panel's replies box changes at t1 (a
 * MutationObserver), t1 - t0 is the click's time. Nothing in these two clicks is
 * delayed on purpose. Four cases, back to back: our server and the bare socket.io
 * server (same protocol, no Redis), each idle and with N viewers connected and
 * watching the pool (the viewers in a process of their own).
 *
 *   npm run bench:click -- [--clicks 100] [--viewers 4000]
 */
import { fork, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { Browser } from 'playwright-core';
import { launchBrowser } from '../../tools/browser.ts';
import { loadDeck, showSlide } from '../../tools/deckPage.ts';
import { ensureDeckBuilt } from '../../tools/builtDeck.ts';
import type { FromChild } from './ipc.ts';
import { spread, type Spread } from './stats.ts';

const HERE = fileURLToPath(new URL('.', import.meta.url));
const LUA_TITLE = 'The Lua Script Solution';
const PANEL = '[data-panel="lua-release"]';
const STEP_TIMEOUT_MS = 180_000;

/** Runs in the page: clicks Allocate / Release once alternately, each timed from the click to the replies box changing. */
const CLICK_LOOP = `async ({ panel, clicks }) => {
  const root = document.querySelector(panel);
  const replies = root.querySelector('[data-role="replies"]');
  const button = (name) => [...root.querySelectorAll('button')].find((b) => b.textContent.trim() === name);
  const once = (name) => new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('no reply to ' + name + ' within 10 s')), 10000);
    const observer = new MutationObserver(() => {
      observer.disconnect();
      clearTimeout(timer);
      resolve(performance.now() - t0);
    });
    observer.observe(replies, { childList: true, subtree: true, characterData: true, attributes: true });
    const t0 = performance.now();
    button(name).click();
  });
  const result = [];
  for (let i = 0; i < clicks; i++) {
    result.push(await once(i % 2 === 0 ? 'Allocate' : 'Release once'));
    // Let this click's broadcast land before the next click, so each click is timed alone.
    await new Promise((r) => setTimeout(r, 30));
  }
  return result;
}`;

function option(name: string, fallback: string): string {
  const index = process.argv.indexOf(`--${name}`);
  return index >= 0 ? (process.argv[index + 1] ?? fallback) : fallback;
}
const clicks = Number(option('clicks', '100'));
const hall = Number(option('viewers', '4000'));

function start(file: string, args: string[], env: Record<string, string> = {}): { child: ChildProcess; ready: Promise<FromChild & { type: 'ready' }> } {
  const child = fork(`${HERE}${file}`, args, { execArgv: ['--import', 'tsx'], env: { ...process.env, ...env }, stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  const ready = new Promise<FromChild & { type: 'ready' }>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${file}: not ready within ${STEP_TIMEOUT_MS} ms`)), STEP_TIMEOUT_MS);
    child.on('message', (message: FromChild) => {
      if (message.type === 'ready') {
        clearTimeout(timer);
        resolve(message);
      }
    });
    child.once('exit', (code) => reject(new Error(`${file} exited (${code})`)));
  });
  return { child, ready };
}

async function stop(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
  await exited;
  clearTimeout(timer);
}

async function measure(browser: Browser, url: string): Promise<Spread> {
  const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
  try {
    const page = await context.newPage();
    await loadDeck(page, url);
    await showSlide(page, LUA_TITLE);
    await page.locator(`${PANEL} [data-role="badge"][data-state="connected"]`).waitFor({ timeout: 20_000 });
    await page.locator(`${PANEL} [data-role="executors"] .lp-row`).first().waitFor({ timeout: 20_000 });
    // Plain JavaScript in a string: the page runs it as written (no transpiler helpers).
    const times = (await page.evaluate(`(${CLICK_LOOP})(${JSON.stringify({ panel: PANEL, clicks })})`)) as number[];
    return spread(times);
  } finally {
    await context.close();
  }
}

await ensureDeckBuilt();
const browser = await launchBrowser();
const rows: { server: string; viewers: number; result: Spread }[] = [];
try {
  for (const viewers of [0, hall]) {
    for (const server of ['bare', 'ours'] as const) {
      const { child, ready } = start(server === 'ours' ? 'ourServer.ts' : 'bareServer.ts', [], { BENCH_DECK: '1' });
      const children = [child];
      try {
        const { url } = await ready;
        if (viewers > 0) {
          const watchers = start('viewers.ts', [url!, String(viewers)]);
          children.push(watchers.child);
          await watchers.ready;
        }
        const result = await measure(browser, url!);
        rows.push({ server, viewers, result });
        console.log(`${server.padEnd(4)} ${String(viewers).padStart(5)} viewers: click to panel p50 ${result.p50.toFixed(1)} ms, p99 ${result.p99.toFixed(1)} ms, max ${result.max.toFixed(1)} ms (${result.count} clicks)`);
      } finally {
        for (const c of children.reverse()) await stop(c);
      }
    }
  }
} finally {
  await browser.close();
}
console.log('\n| viewers connected | click to panel p50 / p99, ours | bare | p99 ratio |');
console.log('|---|---|---|---|');
for (const viewers of [0, hall]) {
  const ours = rows.find((r) => r.server === 'ours' && r.viewers === viewers)!.result;
  const bare = rows.find((r) => r.server === 'bare' && r.viewers === viewers)!.result;
  console.log(`| ${viewers === 0 ? 'none (idle)' : viewers.toLocaleString('en')} | ${ours.p50.toFixed(1)} / ${ours.p99.toFixed(1)} ms | ${bare.p50.toFixed(1)} / ${bare.p99.toFixed(1)} ms | ${(ours.p99 / bare.p99).toFixed(2)}x |`);
}
process.exit(0);
