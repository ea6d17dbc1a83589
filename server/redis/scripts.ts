/**
 * Loads the Lua scripts of `lua/` by name and registers them with ioredis'
 * `defineCommand`, which runs EVALSHA and falls back to EVAL when Redis has not
 * seen the script yet (after a restart or a SCRIPT FLUSH).
 *
 * A script's key count is read from its own header: the `KEYS[n]` lines of the
 * opening comment are the one place that declares them, so code and header
 * cannot drift apart. A file name may carry the count too, BullMQ style
 * (`release_executor_fenced-2.lua` is the script `release_executor_fenced` with 2
 * keys); then name and header must agree.
 *
 * Lua shared by several scripts lives in `lua/includes/` and is pulled in by a line
 * `--- @include "includes/<name>"` (BullMQ's convention), each file once per script.
 */
import { readFileSync, readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { Redis } from 'ioredis';

export const LUA_DIR = fileURLToPath(new URL('../../lua/', import.meta.url));

export interface LuaScript {
  /** Script name: the file name without `.lua` and without a `-<key count>` suffix, e.g. `release_executor`. */
  name: string;
  /** The file in `lua/`, e.g. `release_executor_fenced-2.lua`. */
  file: string;
  numberOfKeys: number;
  /** The source Redis runs: the file with its includes inlined. */
  source: string;
}

const FILE_NAME = /^([a-z0-9_]+?)(?:-(\d+))?\.lua$/;
const INCLUDE = /^--- @include "([A-Za-z0-9_/]+)"[ \t]*$/gm;

function scriptFiles(): Map<string, { file: string; declaredKeys: number | null }> {
  const files = new Map<string, { file: string; declaredKeys: number | null }>();
  for (const file of readdirSync(LUA_DIR).filter((f) => f.endsWith('.lua')).sort()) {
    const match = FILE_NAME.exec(file);
    if (!match) throw new Error(`lua/${file}: a script's file name is <name>.lua or <name>-<key count>.lua`);
    if (files.has(match[1]!)) throw new Error(`lua/${file}: two files for the script ${match[1]}`);
    files.set(match[1]!, { file, declaredKeys: match[2] === undefined ? null : Number(match[2]) });
  }
  return files;
}

function inlineIncludes(source: string, from: string, seen = new Set<string>()): string {
  return source.replace(INCLUDE, (_line, include: string) => {
    if (seen.has(include)) return `-- (${include} included above)`;
    seen.add(include);
    let body: string;
    try {
      body = readFileSync(`${LUA_DIR}${include}.lua`, 'utf8');
    } catch {
      throw new Error(`lua/${from}: includes "${include}", but lua/${include}.lua does not exist`);
    }
    return inlineIncludes(body.trimEnd(), from, seen);
  });
}

export function readScript(name: string): LuaScript {
  const found = scriptFiles().get(name);
  if (!found) throw new Error(`no script lua/${name}.lua`);
  const { file, declaredKeys } = found;
  const raw = readFileSync(`${LUA_DIR}${file}`, 'utf8');
  const header = /^--\[\[([\s\S]*?)\]\]/.exec(raw);
  if (!header) throw new Error(`lua/${file}: no header comment naming its KEYS and ARGV`);
  const declared = new Set([...header[1]!.matchAll(/^\s*KEYS\[(\d+)\]/gm)].map((m) => Number(m[1])));
  for (let i = 1; i <= declared.size; i++) {
    if (!declared.has(i)) throw new Error(`lua/${file}: header declares KEYS out of order (missing KEYS[${i}])`);
  }
  if (declaredKeys !== null && declaredKeys !== declared.size) {
    throw new Error(`lua/${file}: the file name says ${declaredKeys} keys, the header declares ${declared.size}`);
  }
  return { name, file, numberOfKeys: declared.size, source: inlineIncludes(raw, file) };
}

export function listScripts(): string[] {
  return [...scriptFiles().keys()].sort();
}

type ScriptCall = (...keysThenArgs: (string | number)[]) => Promise<unknown>;

/** Runs a loaded script by name: `run('release_executor', keys, args)`. */
export type RunScript = (name: string, keys: string[], args: (string | number)[]) => Promise<unknown>;

export function loadScripts(redis: Redis): RunScript {
  const scripts = new Map<string, LuaScript>();
  for (const name of listScripts()) {
    const script = readScript(name);
    redis.defineCommand(name, { numberOfKeys: script.numberOfKeys, lua: script.source });
    scripts.set(name, script);
  }
  return (name, keys, args) => {
    const script = scripts.get(name);
    if (!script) throw new Error(`no script lua/${name}.lua`);
    if (keys.length !== script.numberOfKeys) {
      throw new Error(`lua/${script.file} takes ${script.numberOfKeys} keys, got ${keys.length}`);
    }
    // defineCommand adds the method at run time; this is its one typed entry point.
    const call = (redis as unknown as Record<string, ScriptCall>)[name]!;
    return call.call(redis, ...keys, ...args);
  };
}
