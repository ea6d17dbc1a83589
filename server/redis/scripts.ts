/**
 * Loads the Lua scripts of `lua/` by name and registers them with ioredis'
 * `defineCommand`, which runs EVALSHA and falls back to EVAL when Redis has not
 * seen the script yet (after a restart or a SCRIPT FLUSH).
 *
 * A script's key count is read from its own header: the `KEYS[n]` lines of the
 * opening comment are the one place that declares them, so code and header
 * cannot drift apart.
 */
import { readFileSync, readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { Redis } from 'ioredis';

export const LUA_DIR = fileURLToPath(new URL('../../lua/', import.meta.url));

export interface LuaScript {
  /** File name without `.lua`, e.g. `release_executor`. */
  name: string;
  numberOfKeys: number;
  source: string;
}

export function readScript(name: string): LuaScript {
  const source = readFileSync(`${LUA_DIR}${name}.lua`, 'utf8');
  const header = /^--\[\[([\s\S]*?)\]\]/.exec(source);
  if (!header) throw new Error(`lua/${name}.lua: no header comment naming its KEYS and ARGV`);
  const declared = new Set([...header[1]!.matchAll(/^\s*KEYS\[(\d+)\]/gm)].map((m) => Number(m[1])));
  for (let i = 1; i <= declared.size; i++) {
    if (!declared.has(i)) throw new Error(`lua/${name}.lua: header declares KEYS out of order (missing KEYS[${i}])`);
  }
  return { name, numberOfKeys: declared.size, source };
}

export function listScripts(): string[] {
  return readdirSync(LUA_DIR).filter((f) => f.endsWith('.lua')).map((f) => f.slice(0, -'.lua'.length)).sort();
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
      throw new Error(`lua/${name}.lua takes ${script.numberOfKeys} keys, got ${keys.length}`);
    }
    // defineCommand adds the method at run time; this is its one typed entry point.
    const call = (redis as unknown as Record<string, ScriptCall>)[name]!;
    return call.call(redis, ...keys, ...args);
  };
}
