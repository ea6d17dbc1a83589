/**
 * A build step that runs on the written output folder, once every file of a
 * successful build is written (a failed build writes nothing to work on).
 * Steps of the same `order` run one after another ('pre' before 'post').
 */
import { resolve } from 'node:path';
import type { Logger, Plugin } from 'vite';

export function afterBuild(
  name: string,
  order: 'pre' | 'post',
  step: (outDir: string, logger: Logger | undefined) => Promise<void>,
): Plugin {
  let outDir = '';
  let logger: Logger | undefined;
  return {
    name,
    apply: 'build',
    configResolved(config) {
      outDir = resolve(config.root, config.build.outDir);
      logger = config.logger;
    },
    writeBundle: {
      sequential: true,
      order,
      handler: () => step(outDir, logger),
    },
  };
}
