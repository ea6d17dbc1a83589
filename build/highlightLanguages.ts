/**
 * reveal's highlight plugin ships highlight.js with all of its ~190 languages
 * (about 1 MB of the deck's JavaScript). The talk shows Python and Lua only, so
 * at build time every other `registerLanguage` call is cut out of the plugin's
 * bundle; the language definitions nobody registers are then unreferenced
 * `@__PURE__` modules, and the bundler drops them.
 *
 * The plugin's own code (line numbers, `[1-3|5]` line steps) stays reveal's.
 * If a reveal.js update changes the bundle's shape, the build fails here rather
 * than shipping every language again, or none.
 */
import type { Plugin } from 'vite';

const HIGHLIGHT_BUNDLE = /reveal\.js\/dist\/plugin\/highlight\.m?js$/;
/** `n.registerLanguage("lua", st())`: the bundle's registration of one language. */
const REGISTRATION = /\b([\w$]+)\.registerLanguage\("([\w-]+)",\s*[\w$]+\(\)\),\s*/g;

export function highlightOnly(languages: readonly string[]): Plugin {
  return {
    name: 'highlight-only',
    enforce: 'pre',
    transform(code, id) {
      if (!HIGHLIGHT_BUNDLE.test(id.split('?')[0] ?? id)) return null;
      const kept = new Set<string>();
      let seen = 0;
      const trimmed = code.replace(REGISTRATION, (call: string, _hljs: string, language: string) => {
        seen += 1;
        if (!languages.includes(language)) return '';
        kept.add(language);
        return call;
      });
      const missing = languages.filter((language) => !kept.has(language));
      if (seen < 100 || missing.length > 0) {
        throw new Error(
          `highlight-only: reveal's highlight bundle no longer looks as expected (${seen} language registrations found; ` +
            `missing: ${missing.join(', ') || 'none'}). Update build/highlightLanguages.ts.`,
        );
      }
      return { code: trimmed, map: null };
    },
  };
}
