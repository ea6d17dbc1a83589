/**
 * The deck is browser code: of `server/` it may use the protocol's types, which
 * the build erases, and nothing else. Code both sides need (pure functions, the
 * lists the slides show) lives in `common/`. A server module that reaches the
 * bundle fails the build, naming who imports it, instead of shipping server code
 * (and its Node built-ins, which Vite would only warn about) to every phone.
 */
import { resolve, relative, sep } from 'node:path';
import type { Plugin } from 'vite';

export function serverCodeGuard(projectRoot: string): Plugin {
  const serverDir = resolve(projectRoot, 'server') + sep;
  return {
    name: 'server-code-guard',
    enforce: 'pre',
    async resolveId(source, importer, options) {
      if (!importer) return null;
      const resolved = await this.resolve(source, importer, { ...options, skipSelf: true });
      if (resolved && resolved.id.startsWith(serverDir)) {
        this.error(
          `${relative(projectRoot, importer)} imports ${relative(projectRoot, resolved.id)}: the deck may import only types from server/protocol.ts (\`import type\`); move shared code to common/.`,
        );
      }
      return resolved;
    },
  };
}
