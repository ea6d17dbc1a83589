/**
 * The set-up of the e2e tests that look at the deck on the real site: the built
 * deck served by the site (its API, socket.io and a private Redis), one Chromium,
 * and, for the panel tests, the presenter's window. close() closes every context
 * opened through it, the browser and the site, whatever of them got started.
 */
import type { Browser, BrowserContext, BrowserContextOptions, Page } from 'playwright-core';
import { launchBrowser } from '../../tools/browser.ts';
import { loadDeck, newDeckContext, newDeckPage } from '../../tools/deckPage.ts';
import { ensureDeckBuilt } from '../../tools/builtDeck.ts';
import { PRESENTER_SECRET, startSite, type Site } from './site.ts';

export interface DeckSite {
  site: Site;
  browser: Browser;
  /** A context closed with the rest; the laptop-sized one by default. */
  newContext(options?: BrowserContextOptions): Promise<BrowserContext>;
  close(): Promise<void>;
}

export async function startDeckSite(env: Record<string, string> = {}): Promise<DeckSite> {
  await ensureDeckBuilt();
  const site = await startSite(env, { deck: true });
  let browser: Browser;
  try {
    browser = await launchBrowser();
  } catch (error) {
    await site.close();
    throw error;
  }
  const contexts: BrowserContext[] = [];
  return {
    site,
    browser,
    async newContext(options) {
      const context = options ? await browser.newContext(options) : await newDeckContext(browser);
      contexts.push(context);
      return context;
    },
    async close() {
      for (const context of contexts) await context.close().catch(() => {});
      await browser.close();
      await site.close();
    },
  };
}

export interface PresenterDeck extends DeckSite {
  context: BrowserContext;
  /** The presenter's window, the deck loaded and ready. */
  page: Page;
  /** The page's uncaught exceptions. */
  errors: Error[];
}

/** The deck site with the presenter's window open (it picks the faults; a viewer runs what the presenter picked). */
export async function openPresenterDeck(env: Record<string, string> = {}): Promise<PresenterDeck> {
  const deck = await startDeckSite(env);
  try {
    const context = await deck.newContext();
    const errors: Error[] = [];
    const page = await newDeckPage(context, errors);
    await loadDeck(page, `${deck.site.url}/presenter?token=${encodeURIComponent(PRESENTER_SECRET)}`);
    return { ...deck, context, page, errors };
  } catch (error) {
    await deck.close();
    throw error;
  }
}
