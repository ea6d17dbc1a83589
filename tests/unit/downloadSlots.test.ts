/**
 * The chaos history's download slots: one download at a time per viewer session,
 * a few for the whole audience, and the presenter never counted nor refused.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DownloadSlots } from '../../server/chaos/downloadSlots.ts';
import { ClientError } from '../../server/errors.ts';

const refused = (error: unknown) => error instanceof ClientError && error.code === 'rate_limited';

test('a session gets one download at a time; once it is done, the next', () => {
  const slots = new DownloadSlots(4);
  const release = slots.take('viewer-a', false);
  assert.throws(() => slots.take('viewer-a', false), refused);
  release();
  release(); // twice changes nothing
  slots.take('viewer-a', false);
});

test('the audience shares a few slots; the presenter takes none and is never refused', () => {
  const slots = new DownloadSlots(2);
  const releases = [slots.take('viewer-a', false), slots.take('viewer-b', false)];
  assert.throws(() => slots.take('viewer-c', false), refused);
  for (let i = 0; i < 10; i++) slots.take('presenter', true);
  releases[0]!();
  slots.take('viewer-c', false);
  assert.throws(() => slots.take('viewer-d', false), refused);
});
