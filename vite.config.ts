import { fileURLToPath } from 'node:url';
import { defineConfig, type Plugin } from 'vite';
import { recordDeckInputs } from './build/deckInputs.ts';
import { highlightOnly } from './build/highlightLanguages.ts';
import { precompress } from './build/precompress.ts';
import { serverCodeGuard } from './build/serverCodeGuard.ts';
import { socialPreview } from './build/socialPreview.ts';

const root = fileURLToPath(new URL('./slides', import.meta.url));
const outDir = fileURLToPath(new URL('./dist', import.meta.url));
const projectRoot = fileURLToPath(new URL('.', import.meta.url));

/**
 * reveal's themes @import their fonts from Google's servers. A talk is given on
 * venue Wi-Fi, or none: the deck ships its fonts itself (@fontsource, imported in
 * slides/main.ts), so these imports are dropped rather than left to time out.
 */
function selfHostedThemeFonts(): Plugin {
  return {
    name: 'self-hosted-theme-fonts',
    enforce: 'pre',
    transform(code, id) {
      if (!/reveal\.js\/.*theme\/.*\.css/.test(id)) return null;
      return { code: code.replace(/@import\s*(url\()?["']?https:\/\/fonts\.googleapis\.com[^;]*;/g, ''), map: null };
    },
  };
}

// The deck lives in slides/ and builds to dist/, which the Express server serves at `/`
// (in development the server runs Vite in middleware mode: no proxy needed here).
export default defineConfig({
  root,
  // Relative asset URLs: the built deck works wherever it is mounted.
  base: './',
  // The talk's code is Python and Lua: highlight.js carries those two languages only.
  plugins: [serverCodeGuard(projectRoot), selfHostedThemeFonts(), highlightOnly(['python', 'lua']), socialPreview(), precompress(), recordDeckInputs(projectRoot, outDir)],
  build: {
    outDir,
    emptyOutDir: true,
    // Fonts stay files of their own: inlined into the CSS they would be downloaded
    // before the first slide whether a slide uses them or not.
    assetsInlineLimit: (file) => (/\.(woff2?|ttf|otf)$/.test(file) ? false : undefined),
    // Rolldown warns of slow plugin callbacks: ours are the after-build steps (a Chromium screenshot,
    // compression at the highest levels), slow by design and timed by the build's own log lines.
    rolldownOptions: { checks: { bundlerTimings: false } },
  },
});
