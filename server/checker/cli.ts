/**
 * `npm run check -- history.json [more.json …]`: checks pool histories offline
 * (format: server/checker/history.ts) and prints, for each, whether the
 * invariant held at every point, or the first violation and the operations that
 * led to it. Exit code 0: all sound; 1: a violation; 2: a file that is not a history.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { checkHistory, formatViolation } from './checker.ts';
import { parseHistory } from './history.ts';

export function checkFiles(files: string[], print: (line: string) => void): number {
  let exitCode = 0;
  for (const file of files) {
    let history;
    try {
      history = parseHistory(readFileSync(file, 'utf8'));
    } catch (error) {
      print(`${file}: not a pool history: ${error instanceof Error ? error.message : String(error)}`);
      exitCode = 2;
      continue;
    }
    const result = checkHistory(history);
    print(`${file}: pool "${history.pool}", ${history.executors.length} executors, release ${history.release}: ${result.summary}`);
    if (result.first) {
      for (const line of formatViolation(result.first)) print(line);
      if (result.violations.length > 1) print(`  (then ${result.violations.length - 1} more: ${JSON.stringify(result.byRule)})`);
      exitCode = Math.max(exitCode, 1);
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
