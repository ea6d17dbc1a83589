/**
 * `npm run check -- history.json [more.json …]`: checks pool histories offline
 * (a file holds one history, or an array of them)
 * (format: server/checker/history.ts) and prints, for each, whether the
 * invariant held at every point, or the first violation and the operations that
 * led to it. Exit code 0: all sound; 1: a violation; 2: a file that is not a history.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { checkHistory, formatViolation } from './checker.ts';
import { parseHistory, PoolHistory } from './history.ts';

/** A file holds one history, or an array of them (a chaos round's download: one per release variant). */
function parseHistories(json: string): PoolHistory[] {
  const parsed: unknown = JSON.parse(json);
  return Array.isArray(parsed) ? parsed.map((history) => PoolHistory.parse(history)) : [parseHistory(json)];
}

export function checkFiles(files: string[], print: (line: string) => void): number {
  let exitCode = 0;
  for (const file of files) {
    let histories;
    try {
      histories = parseHistories(readFileSync(file, 'utf8'));
    } catch (error) {
      print(`${file}: not a pool history: ${error instanceof Error ? error.message : String(error)}`);
      exitCode = 2;
      continue;
    }
    for (const history of histories) {
      const result = checkHistory(history);
      print(`${file}: pool "${history.pool}", ${history.executors.length} executors, release ${history.release}: ${result.summary}`);
      if (result.first) {
        for (const line of formatViolation(result.first)) print(line);
        if (result.violations.length > 1) print(`  (then ${result.violations.length - 1} more: ${JSON.stringify(result.byRule)})`);
        exitCode = Math.max(exitCode, 1);
      }
    }
  }
  return exitCode;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const files = process.argv.slice(2);
  if (files.length === 0) {
    console.error('usage: npm run check -- history.json [more.json …]');
    process.exitCode = 2;
  } else {
    process.exitCode = checkFiles(files, (line) => console.log(line));
  }
}
