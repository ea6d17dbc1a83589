/**
 * The README is the front door: short, the two commands, how to present and how
 * to read alone, one picture, and links that lead somewhere. Every command it
 * and docs/SETUP.md name is one package.json has.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadConfig } from '../../server/config.ts';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const README = readFileSync(join(ROOT, 'README.md'), 'utf8');
const SCRIPTS = Object.keys((JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { scripts: Record<string, string> }).scripts);

test('the README is at most 1,500 words, with the two commands first', () => {
  const words = README.split(/\s+/).filter(Boolean).length;
  assert.ok(words <= 1500, `${words} words`);
  const commands = README.indexOf('npm install && npm start');
  assert.ok(commands > 0 && README.indexOf('npm install && npm test') > commands, 'both commands');
  assert.ok(commands < README.indexOf('## Presenting'), 'before anything else');
});

test('it says how to present and how to read alone', () => {
  const presenting = README.split('## Presenting')[1]?.split('\n## ')[0] ?? '';
  assert.match(presenting, /presenter link/);
  assert.match(presenting, /HOST=0\.0\.0\.0/);
  assert.match(README, /## Reading it alone/);
});

test('its picture and its links exist', () => {
  const images = [...README.matchAll(/!\[[^\]]+\]\(([^)]+)\)/g)].map((match) => match[1]!);
  assert.equal(images.length, 1, 'one picture');
  const png = readFileSync(join(ROOT, images[0]!));
  assert.equal(png.subarray(1, 4).toString(), 'PNG');
  const docs = [...README.matchAll(/\bdocs\/[\w./-]+\.(?:md|png)/g)].map((match) => match[0]);
  assert.ok(docs.length >= 6, 'it links into docs/');
  for (const path of docs) assert.ok(existsSync(join(ROOT, path)), `${path} exists`);
});

test('every `npm run` it and docs/SETUP.md name is a script of package.json', () => {
  for (const file of ['README.md', 'docs/SETUP.md']) {
    const text = readFileSync(join(ROOT, file), 'utf8');
    const named = [...text.matchAll(/npm run ([\w:-]+)/g)].map((match) => match[1]!);
    assert.ok(named.length > 3, file);
    for (const script of named) assert.ok(SCRIPTS.includes(script), `${file}: npm run ${script}`);
  }
});

test("the README's commands set variables the server accepts", () => {
  const commands = [...README.matchAll(/^\s*((?:[A-Z_]+=\S+ )+)npm start$/gm)].map((match) => match[1]!.trim());
  assert.ok(commands.length >= 1, 'a start command with its variables');
  for (const command of commands) {
    const env = Object.fromEntries(command.split(' ').map((pair) => pair.split('=', 2) as [string, string]));
    assert.doesNotThrow(() => loadConfig(env, []), command);
  }
});
