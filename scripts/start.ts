/**
 * `npm start`: the built deck, built again only when its sources changed since
 * dist/ was built (build/deckInputs.ts), then the server (server/main.ts).
 *
 * A build prints one line before and one after; `npm start -- --verbose` shows
 * Vite's whole log instead. A fresh clone has no dist/: its first start builds.
 */
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { staleReason } from '../build/deckInputs.ts';

const ROOT = fileURLToPath(new URL('..', import.meta.url));

async function buildDeckIfStale(verbose: boolean): Promise<void> {
  const reason = staleReason(ROOT);
  if (!reason) return;
  const started = Date.now();
  process.stdout.write(`Building the deck (${reason})…\n`);
  // Loaded only when needed: a start with a current build does not pay for Vite.
  const { build } = await import('vite');
  await build({ configFile: join(ROOT, 'vite.config.ts'), logLevel: verbose ? 'info' : 'warn' });
  process.stdout.write(`Built in ${((Date.now() - started) / 1000).toFixed(1)} s.\n`);
}

try {
  await buildDeckIfStale(process.argv.includes('--verbose'));
} catch (error) {
  process.stderr.write(`\nThe deck could not be built: ${error instanceof Error ? error.message : String(error)}\n\n`);
  process.exit(1);
}
await import('../server/main.ts');
