/**
 * A test reporter that closes the run with how long each test file took, slowest
 * first: from its start (dequeued to run) to the last event it reported. With files running side
 * by side, this is what to look at when the suite slows down. (JavaScript: node loads
 * reporters before tsx's hooks are in place.)
 *
 * @param {AsyncIterable<{ type: string, data?: { file?: string } }>} source
 */
export default async function* fileTimes(source) {
  /** @type {Map<string, { first: number, last: number }>} */
  const spans = new Map();
  const started = Date.now();
  for await (const event of source) {
    const file = event.data?.file;
    // Every file is enqueued when the run begins: its time starts when it is dequeued.
    if (!file || event.type === 'test:enqueue') continue;
    const now = Date.now();
    const span = spans.get(file);
    if (span) span.last = now;
    else spans.set(file, { first: now, last: now });
  }
  const seconds = (/** @type {number} */ ms) => `${(ms / 1000).toFixed(1)} s`.padStart(8);
  const root = `${process.cwd()}/`;
  const rows = [...spans].map(([file, { first, last }]) => ({ file: file.replace(root, ''), ms: last - first })).sort((a, b) => b.ms - a.ms);
  yield `\ntest files by time (${rows.length} files, ${seconds(Date.now() - started).trim()} in all):\n`;
  for (const { file, ms } of rows) yield `${seconds(ms)}  ${file}\n`;
}
