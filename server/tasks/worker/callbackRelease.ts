/**
 * A callback (`link` or `link_error`) releasing the eval's executor for real,
 * with this process' own connection to Redis, and telling the timeline: the
 * callback starting, then Redis' reply (or why there was none).
 */
import { randomUUID } from 'node:crypto';
import type { ExecutorPools } from '../../pool/executorPool.ts';
import type { CallbackName, ReleaseKind, ReleaseReply } from '../../protocol.ts';
import type { JobRef } from '../ipc.ts';
import { reportEvent, send } from './report.ts';

export interface ReleaseOrder {
  runId: string;
  pool: string;
  executor: string;
  release: ReleaseKind;
}

export type CallbackRelease = (callback: CallbackName, callbackLane: string, order: ReleaseOrder, job: JobRef) => Promise<ReleaseReply>;

export function callbackRelease(pools: ExecutorPools, pid: number): CallbackRelease {
  return async (callback, callbackLane, data, job) => {
    const callId = randomUUID();
    send({ type: 'callback', phase: 'start', runId: data.runId, callId });
    const how = data.release === 'lua' ? 'the idempotent Lua release' : 'the naive release (DEL + LPUSH)';
    reportEvent(
      data.runId,
      job,
      {
        kind: 'callback-started',
        text: `${callback} releases ${data.executor} to pool ${data.pool} with ${how}`,
        data: { ...job, callback, pool: data.pool, executor: data.executor, release: data.release },
      },
      { lane: callbackLane },
    );
    let reply: ReleaseReply | null = null;
    let at = Date.now();
    try {
      // The fenced release needs the allocation's token, which the task runtime does not carry:
      // the scenarios that run here accept only these two (see Scenario.releases).
      if (data.release === 'fenced') throw new Error('the task runtime has no token for the fenced release');
      const answer = data.release === 'lua' ? await pools.release(data.pool, data.executor) : await pools.releaseNaive(data.pool, data.executor);
      at = Date.now();
      reply = answer;
      const verdict =
        answer.status === 'released'
          ? `${data.executor} is back in the pool`
          : answer.status === 'already_in_pool'
            ? 'it was already in the pool: nothing added'
            : 'it was not busy: nothing added';
      const raw = answer.reply.map((part) => JSON.stringify(part)).join(', ');
      reportEvent(
        data.runId,
        job,
        {
          kind: 'release-reply',
          text: `${callback}'s release: ${answer.status} [${raw}], ${verdict}`,
          // The reply, and which callback in which process asked for it.
          data: { ...answer, ...job, callback, callbackLane, callbackPid: pid, release: data.release },
        },
        {
          lane: 'redis',
          pid: null,
          // The Lua release reports Redis' own clock; the naive one only what the commands return.
          at: data.release === 'lua' && typeof answer.reply[3] === 'number' ? answer.reply[3] : at,
        },
      );
      return answer;
    } catch (error) {
      at = Date.now();
      reportEvent(
        data.runId,
        job,
        {
          kind: 'callback-error',
          text: `${callback} could not release ${data.executor}: ${(error as Error).message}`,
          data: { ...job, callback, executor: data.executor, message: (error as Error).message },
        },
        { lane: callbackLane },
      );
      throw error;
    } finally {
      send({ type: 'callback', phase: 'end', runId: data.runId, callId, callback, lane: callbackLane, reply, at });
    }
  };
}
