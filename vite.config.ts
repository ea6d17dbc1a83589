import { fileURLToPath } from 'node:url';
import { defineConfig, type Plugin } from 'vite';

const root = fileURLToPath(new URL('./slides', import.meta.url));
const outDir = fileURLToPath(new URL('./dist', import.meta.url));

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
  plugins: [selfHostedThemeFonts()],
  build: {
    outDir,
    emptyOutDir: true,
    // reveal's highlight plugin bundles highlight.js with all its languages.
    chunkSizeWarningLimit: 1500,
  },
});
