/**
 * A test reporter that closes the run with how long each test file took, slowest
 * first: from its start (dequeued to run) to the last event it reported. With files
 * running side by side, this is what to look at when the suite slows down.
 * Written straight to stderr when the run's summary comes: --test-force-exit ends the
 * process before a reporter's stream is flushed. (JavaScript: node loads reporters
 * before tsx's hooks are in place.)
 *
 * @param {AsyncIterable<{ type: string, data?: { file?: string, nesting?: number, message?: string } }>} source
 */
import { writeSync } from 'node:fs';

export default async function* fileTimes(source) {
  /** @type {Map<string, { first: number, last: number }>} */
  const spans = new Map();
  const started = Date.now();
  let printed = false;
  for await (const event of source) {
    const file = event.data?.file;
    // Every file is enqueued when the run begins: its time starts when it is dequeued.
    if (file && event.type !== 'test:enqueue') {
      const now = Date.now();
      const span = spans.get(file);
      if (span) span.last = now;
      else spans.set(file, { first: now, last: now });
    }
    // The run's summary (its first line, `tests N`; a file's own diagnostics name their file).
    if (event.type === 'test:diagnostic' && event.data?.nesting === 0 && !file && event.data.message?.startsWith('tests ') && !printed) {
      printed = true;
      writeSync(2, table(spans, Date.now() - started));
    }
  }
  if (!printed) writeSync(2, table(spans, Date.now() - started));
  yield '';
}

/** @param {Map<string, { first: number, last: number }>} spans @param {number} totalMs */
function table(spans, totalMs) {
  const seconds = (/** @type {number} */ ms) => `${(ms / 1000).toFixed(1)} s`.padStart(8);
  const root = `${process.cwd()}/`;
  const rows = [...spans].map(([file, { first, last }]) => ({ file: file.replace(root, ''), ms: last - first })).sort((a, b) => b.ms - a.ms);
  return [`\ntest files by time (${rows.length} files, ${seconds(totalMs).trim()} in all):`, ...rows.map(({ file, ms }) => `${seconds(ms)}  ${file}`), ''].join('\n');
}
