/**
 * Structured logging: one JSON object per line, with a level filter and child fields.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createCapturingLogger, createLogger } from '../../server/log.ts';

test('one JSON object per line: time, level, msg, then the fields', () => {
  const lines: string[] = [];
  const log = createLogger({ sink: (line) => lines.push(line) });
  log.warn('Double release detected', { pool: 'main', executor: 'executor-1', sinceLastReleaseMs: 2 });
  assert.equal(lines.length, 1);
  assert.ok(!lines[0]!.includes('\n'));
  const entry = JSON.parse(lines[0]!) as Record<string, unknown>;
  assert.deepEqual(Object.keys(entry), ['time', 'level', 'msg', 'pool', 'executor', 'sinceLastReleaseMs']);
  assert.equal(entry.level, 'warn');
  assert.equal(entry.msg, 'Double release detected');
  assert.equal(entry.executor, 'executor-1');
  assert.ok(!Number.isNaN(Date.parse(entry.time as string)));
});

test('lines under the level are dropped', () => {
  const lines: string[] = [];
  const log = createLogger({ sink: (line) => lines.push(line), level: 'warn' });
  log.debug('d');
  log.info('i');
  log.warn('w');
  log.error('e');
  assert.deepEqual(lines.map((l) => JSON.parse(l).msg), ['w', 'e']);
});

test('a child adds its fields to every line and keeps the level', () => {
  const lines: string[] = [];
  const child = createLogger({ sink: (line) => lines.push(line), level: 'info', fields: { app: 'idem' } }).child({ part: 'tasks' });
  child.debug('hidden');
  child.info('shown', { n: 1 });
  assert.equal(lines.length, 1);
  const entry = JSON.parse(lines[0]!) as Record<string, unknown>;
  assert.deepEqual([entry.level, entry.msg, entry.app, entry.part, entry.n], ['info', 'shown', 'idem', 'tasks', 1]);
});

test('the capturing logger keeps every line, debug included', () => {
  const { logger, lines } = createCapturingLogger();
  logger.debug('a');
  logger.error('b');
  assert.deepEqual(lines.map((l) => JSON.parse(l).msg), ['a', 'b']);
});

test('no line carries a URL\'s password, wherever it is (a field, an error message)', () => {
  const lines: string[] = [];
  const log = createLogger({ sink: (line) => lines.push(line) });
  log.info('started a private redis-server', { url: 'redis://:s3cr3t-Pa55@127.0.0.1:6400' });
  log.warn('redis connection error', { error: 'connect ECONNREFUSED redis://user:hunter2hunter2@10.0.0.5:6379/0' });
  assert.ok(!lines.some((line) => line.includes('s3cr3t-Pa55') || line.includes('hunter2hunter2')), lines.join('\n'));
  assert.equal(JSON.parse(lines[0]!).url, 'redis://:***@127.0.0.1:6400', 'the rest of the URL stays readable');
  assert.match(lines[1]!, /redis:\/\/user:\*\*\*@10\.0\.0\.5:6379\/0/);
});
