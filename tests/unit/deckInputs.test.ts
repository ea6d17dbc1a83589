/**
 * `npm start` builds the deck again only when what it was built from changed:
 * the record the build writes beside dist/ against the files and environment of
 * now, in a project of a few files in a temporary folder.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Plugin } from 'vite';
import { buildEnv, INPUTS_FILE, recordDeckInputs, staleReason } from '../../build/deckInputs.ts';

function project(): string {
  const root = mkdtempSync(join(tmpdir(), 'deck-inputs-'));
  for (const dir of ['slides', 'demo/panels', 'common', 'build', 'server', 'dist']) mkdirSync(join(root, dir), { recursive: true });
  writeFileSync(join(root, 'slides', 'talk.md'), '# The talk');
  writeFileSync(join(root, 'demo', 'panels', 'panel.ts'), 'export const panel = 1;');
  writeFileSync(join(root, 'common', 'shared.ts'), 'export const shared = 1;');
  writeFileSync(join(root, 'server', 'elsewhere.ts'), 'export const bundled = 1;');
  writeFileSync(join(root, 'server', 'unrelated.ts'), 'export const unrelated = 1;');
  writeFileSync(join(root, 'vite.config.ts'), 'export default {};');
  writeFileSync(join(root, 'package-lock.json'), '{}');
  return root;
}

type Hook = (this: unknown, ...args: unknown[]) => unknown;
const hook = (plugin: Plugin, name: keyof Plugin): Hook => {
  const value = plugin[name] as Hook | { handler: Hook };
  return typeof value === 'function' ? value : value.handler;
};

/** Runs the plugin's hooks as a build into `outDir` would, with `modules` as the bundle's modules. */
function build(root: string, outDir: string, modules: string[], env: NodeJS.ProcessEnv = {}): void {
  const plugin = recordDeckInputs(root, join(root, 'dist'));
  const saved = { ...process.env };
  for (const key of Object.keys(buildEnv(process.env))) delete process.env[key];
  Object.assign(process.env, env);
  try {
    hook(plugin, 'configResolved').call({}, { root: join(root, 'slides'), build: { outDir } });
    hook(plugin, 'buildStart').call({});
    if (outDir === join(root, 'dist')) writeFileSync(join(root, 'dist', 'index.html'), '<!doctype html>');
    hook(plugin, 'generateBundle').call({ getModuleIds: () => modules.map((path) => join(root, path)).values() });
    hook(plugin, 'writeBundle').call({});
  } finally {
    for (const key of Object.keys(process.env)) if (!(key in saved)) delete process.env[key];
    Object.assign(process.env, saved);
  }
}

test('a fresh tree needs a build; after one, nothing to do until an input changes', () => {
  const root = project();
  try {
    assert.match(staleReason(root, {}) ?? '', /no built deck/);
    build(root, join(root, 'dist'), ['slides/talk.md', 'server/elsewhere.ts', 'node_modules/x/index.js']);
    assert.equal(staleReason(root, {}), null);

    writeFileSync(join(root, 'server', 'unrelated.ts'), 'export const unrelated = 2;');
    assert.equal(staleReason(root, {}), null, 'a server file the bundle does not use is not an input');

    writeFileSync(join(root, 'demo', 'panels', 'panel.ts'), 'export const panel = 2;');
    assert.equal(staleReason(root, {}), 'demo/panels/panel.ts changed');
    build(root, join(root, 'dist'), ['slides/talk.md', 'server/elsewhere.ts']);
    assert.equal(staleReason(root, {}), null);

    writeFileSync(join(root, 'server', 'elsewhere.ts'), 'export const bundled = 2;');
    assert.equal(staleReason(root, {}), 'server/elsewhere.ts changed', 'a file the bundle was made of, outside the deck folders');
    build(root, join(root, 'dist'), ['slides/talk.md', 'server/elsewhere.ts']);

    writeFileSync(join(root, 'slides', 'new.json'), '[]');
    assert.equal(staleReason(root, {}), 'slides/new.json is new');
    unlinkSync(join(root, 'slides', 'new.json'));
    assert.equal(staleReason(root, {}), null);

    unlinkSync(join(root, 'common', 'shared.ts'));
    assert.equal(staleReason(root, {}), 'common/shared.ts changed');
    build(root, join(root, 'dist'), ['slides/talk.md']);

    writeFileSync(join(root, 'package-lock.json'), '{"packages":{}}');
    assert.equal(staleReason(root, {}), 'package-lock.json changed');
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});

test('the build environment is part of the record: PUBLIC_URL and VITE_* (a static build is another deck)', () => {
  const root = project();
  try {
    build(root, join(root, 'dist'), [], { PUBLIC_URL: 'https://talk.example.org/' });
    assert.equal(staleReason(root, { PUBLIC_URL: 'https://talk.example.org/', HOME: '/elsewhere' }), null, 'other variables do not count');
    assert.match(staleReason(root, {}) ?? '', /environment changed/);
    build(root, join(root, 'dist'), [], { VITE_STATIC_DECK: '1' });
    assert.match(staleReason(root, {}) ?? '', /environment changed/);
    assert.equal(staleReason(root, { VITE_STATIC_DECK: '1' }), null);
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});

test('a build into another folder leaves the record of dist/ alone; a build that starts removes it until it is done', () => {
  const root = project();
  try {
    build(root, join(root, 'dist'), []);
    writeFileSync(join(root, 'slides', 'talk.md'), '# Changed');
    build(root, join(root, 'elsewhere'), []);
    assert.equal(staleReason(root, {}), 'slides/talk.md changed', 'a temporary build did not claim dist/ is current');

    const plugin = recordDeckInputs(root, join(root, 'dist'));
    hook(plugin, 'configResolved').call({}, { root: join(root, 'slides'), build: { outDir: '../dist' } });
    hook(plugin, 'buildStart').call({});
    assert.equal(existsSync(join(root, INPUTS_FILE)), false, 'no record while the build runs (a failed build leaves none)');
    assert.match(staleReason(root, {}) ?? '', /no record/);
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});

test('without dist/index.html the deck is built, whatever the record says', () => {
  const root = project();
  try {
    build(root, join(root, 'dist'), []);
    unlinkSync(join(root, 'dist', 'index.html'));
    assert.match(staleReason(root, {}) ?? '', /no built deck/);
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});
