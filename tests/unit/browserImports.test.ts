/**
 * The deck's code (demo/, slides/) and the code it shares with the server
 * (common/) import nothing of server/ but the protocol's types: read from the
 * sources with TypeScript's parser, so a value import (which would put server
 * code, and its Node built-ins, into the bundle) fails here before any build.
 * The build itself refuses such a module too (build/serverCodeGuard.ts).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative, resolve, sep } from 'node:path';
import ts from 'typescript';
import { serverCodeGuard } from '../../build/serverCodeGuard.ts';

const ROOT = resolve(import.meta.dirname, '..', '..');
const BROWSER_DIRS = ['demo', 'slides', 'common'];

interface ImportSite {
  specifier: string;
  typeOnly: boolean;
}

/** Every import, re-export and dynamic import of a file, and whether the build erases it. */
function importsOf(path: string): ImportSite[] {
  const source = ts.createSourceFile(path, readFileSync(path, 'utf8'), ts.ScriptTarget.Latest, true);
  const sites: ImportSite[] = [];
  const visit = (node: ts.Node): void => {
    if (ts.isImportDeclaration(node) && ts.isStringLiteral(node.moduleSpecifier)) {
      // With verbatimModuleSyntax, `import { type X }` still loads the module: only `import type` is erased.
      sites.push({ specifier: node.moduleSpecifier.text, typeOnly: node.importClause?.isTypeOnly === true });
    } else if (ts.isExportDeclaration(node) && node.moduleSpecifier && ts.isStringLiteral(node.moduleSpecifier)) {
      sites.push({ specifier: node.moduleSpecifier.text, typeOnly: node.isTypeOnly });
    } else if (ts.isCallExpression(node) && node.expression.kind === ts.SyntaxKind.ImportKeyword) {
      const [argument] = node.arguments;
      sites.push({ specifier: argument && ts.isStringLiteralLike(argument) ? argument.text : '<computed>', typeOnly: false });
    } else if (ts.isImportTypeNode(node) && ts.isLiteralTypeNode(node.argument) && ts.isStringLiteral(node.argument.literal)) {
      sites.push({ specifier: node.argument.literal.text, typeOnly: true });
    }
    ts.forEachChild(node, visit);
  };
  visit(source);
  return sites;
}

function sourcesUnder(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true, recursive: true })
    .filter((entry) => entry.isFile() && /\.(ts|mts|js|mjs)$/.test(entry.name))
    .map((entry) => join(entry.parentPath, entry.name));
}

/** What `files` import of `<root>/server/` that the rule forbids, as "file → module" lines. */
function serverImports(root: string, files: string[]): string[] {
  const serverDir = join(root, 'server') + sep;
  const protocol = join(root, 'server', 'protocol.ts');
  const bad: string[] = [];
  for (const file of files) {
    for (const site of importsOf(file)) {
      if (site.specifier === '<computed>') {
        bad.push(`${relative(root, file)} → an import() of a computed name`);
        continue;
      }
      if (!site.specifier.startsWith('.') && !site.specifier.startsWith('/')) continue;
      const target = site.specifier.startsWith('/') ? join(root, site.specifier) : resolve(dirname(file), site.specifier);
      if (!target.startsWith(serverDir)) continue;
      if (target === protocol && site.typeOnly) continue;
      bad.push(`${relative(root, file)} → ${relative(root, target)}${site.typeOnly ? '' : ' (at run time)'}`);
    }
  }
  return bad;
}

test("the deck and common/ import only the protocol's types from server/", () => {
  const files = BROWSER_DIRS.flatMap((dir) => sourcesUnder(join(ROOT, dir)));
  assert.ok(files.some((file) => file.endsWith(join('demo', 'panels', 'lateDuplicatePanel.ts'))), 'the deck sources were found');
  assert.deepEqual(serverImports(ROOT, files), []);
});

test('the check catches a value import, a type import of another module, a re-export and a dynamic import', () => {
  const root = mkdtempSync(join(tmpdir(), 'browser-imports-'));
  try {
    mkdirSync(join(root, 'demo'));
    const file = join(root, 'demo', 'panel.ts');
    writeFileSync(
      file,
      [
        "import type { A } from '../server/protocol.ts';",
        "import { type B } from '../server/protocol.ts';",
        "import { C } from '../server/protocol.ts';",
        "import type { D } from '../server/checker/history.ts';",
        "export { E } from '../server/pool/executorPool.ts';",
        "const f = () => import('../server/tasks/x.ts');",
        "import { G } from '../common/shared.ts';",
      ].join('\n'),
    );
    assert.deepEqual(serverImports(root, [file]), [
      'demo/panel.ts → server/protocol.ts (at run time)',
      'demo/panel.ts → server/protocol.ts (at run time)',
      'demo/panel.ts → server/checker/history.ts',
      'demo/panel.ts → server/pool/executorPool.ts (at run time)',
      'demo/panel.ts → server/tasks/x.ts (at run time)',
    ]);
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});

test('the build refuses a server module that reaches the bundle, naming who imports it', async () => {
  const guard = serverCodeGuard('/project');
  const hook = guard.resolveId as (this: unknown, source: string, importer: string | undefined, options: object) => Promise<unknown>;
  const context = (id: string) => ({
    resolve: async () => ({ id }),
    error: (message: string) => {
      throw new Error(message);
    },
  });
  await assert.rejects(
    hook.call(context('/project/server/pool/executorPool.ts'), '../server/pool/executorPool.ts', '/project/demo/panel.ts', {}),
    /demo\/panel\.ts imports server\/pool\/executorPool\.ts/,
  );
  assert.deepEqual(await hook.call(context('/project/common/historyText.ts'), '../common/historyText.ts', '/project/demo/panel.ts', {}), { id: '/project/common/historyText.ts' });
});
