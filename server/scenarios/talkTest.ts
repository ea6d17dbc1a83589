/**
 * Runs the talk's own test, from the real test suite (tests/integration/talk.test.ts),
 * as a child process with node's test runner, pointed at this server's Redis. Not
 * a copy of the test: the very file `npm test` runs.
 */
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { TestLineType } from '../protocol.ts';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
export const TALK_TEST_FILE = 'tests/integration/talk.test.ts';
/** The log line the talk's test expects to capture. */
const DOUBLE_RELEASE_WARNING = 'Double release detected';

export interface TalkTestOutcome {
  passed: boolean;
  exitCode: number | null;
  /** Test names with ok / not ok, as the runner reported them. */
  results: { name: string; ok: boolean }[];
  /** Log lines the test captured and reported (the "Double release detected" warning). */
  capturedLogs: string[];
}

export function runTalkTest(
  redisUrl: string,
  pool: string,
  onLine: (line: string, lineType: TestLineType, pid: number | null) => void,
  timeoutMs = 60_000,
): Promise<TalkTestOutcome> {
  // When this server itself runs under node's test runner, NODE_TEST_CONTEXT would make the
  // child report to it in its private protocol instead of printing TAP for us.
  const { NODE_TEST_CONTEXT: _context, ...env } = process.env;
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', '--test', '--test-reporter=tap', TALK_TEST_FILE], {
      cwd: ROOT,
      env: { ...env, TALK_TEST_REDIS_URL: redisUrl, TALK_TEST_POOL: pool },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const pid = child.pid ?? null;
    const results: TalkTestOutcome['results'] = [];
    const capturedLogs: string[] = [];
    let buffered = '';
    const onData = (chunk: Buffer) => {
      buffered += chunk.toString();
      const lines = buffered.split('\n');
      buffered = lines.pop() ?? '';
      for (const raw of lines) {
        const line = raw.trimEnd();
        if (!line.trim()) continue;
        const result = /^\s*(not ok|ok) \d+ - (.+?)(\s+#.*)?$/.exec(line);
        if (result && !/^\s{4,}/.test(raw)) results.push({ name: result[2]!, ok: result[1] === 'ok' });
        const comment = /^\s*#/.test(line);
        const warning = line.includes(DOUBLE_RELEASE_WARNING);
        if (warning && comment) capturedLogs.push(line.replace(/^\s*#\s*/, ''));
        onLine(line, result ? (result[1] === 'ok' ? 'pass' : 'fail') : warning ? 'warning' : comment ? 'comment' : 'plain', pid);
      }
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
    child.on('close', (exitCode) => {
      clearTimeout(timer);
      resolve({ passed: exitCode === 0 && results.length > 0 && results.every((r) => r.ok), exitCode, results, capturedLogs });
    });
  });
}
