import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vite';

const root = fileURLToPath(new URL('./slides', import.meta.url));
const outDir = fileURLToPath(new URL('./dist', import.meta.url));

// The deck lives in slides/ and builds to dist/, which the Express server serves at `/`
// (in development the server runs Vite in middleware mode: no proxy needed here).
export default defineConfig({
  root,
  // Relative asset URLs: the built deck works wherever it is mounted.
  base: './',
  build: {
    outDir,
    emptyOutDir: true,
    // reveal's highlight plugin bundles highlight.js with all its languages.
    chunkSizeWarningLimit: 1500,
  },
});
