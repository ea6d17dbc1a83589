/**
 * Says what really happened in a run, for the audience, from the events the
 * workers observed (BullMQ's own events and errors), never from the fault's
 * name: if BullMQ did something else than the fault intended, this says so.
 */
import { CALLBACK_QUEUE, EVAL_QUEUES, type EvalQueueName } from './queues.ts';
import type { EvalRunOutcome, TimelineEvent } from './types.ts';

interface JobData {
  queue?: string;
  jobId?: string;
}

function dataOf(event: TimelineEvent): Record<string, unknown> & JobData {
  return event.data && typeof event.data === 'object' ? (event.data as Record<string, unknown> & JobData) : {};
}

export const STALLED_LIMIT_REASON = 'job stalled more than allowable limit';

export function describeMechanism(events: TimelineEvent[], outcome: EvalRunOutcome, queue: EvalQueueName, timeoutMs: number): string {
  const steps: string[] = [];
  const isEvalEvent = (event: TimelineEvent) => {
    const data = dataOf(event);
    return data.queue === undefined || data.queue !== CALLBACK_QUEUE;
  };
  // In the order things happened (a blocked worker reports late), not of arrival.
  const ordered = [...events].sort((a, b) => a.at - b.at || a.seq - b.seq);
  const who = (event: TimelineEvent) => (event.pid === null ? event.lane : `${event.lane} (pid ${event.pid})`);
  for (const event of ordered) {
    if (!isEvalEvent(event)) continue;
    const data = dataOf(event);
    switch (event.kind) {
      case 'task-raised':
        steps.push(`the task raised on ${who(event)}`);
        break;
      case 'event-loop-blocked':
        steps.push(`${who(event)} blocked its event loop for ${String(data.blockMs)} ms, longer than its ${String(data.lockDurationMs)} ms lock, so the lock was not renewed`);
        break;
      case 'worker-killed': {
        const how = data.signal ? `killed by ${String(data.signal)}` : `exited with code ${String(data.code)}`;
        const when =
          data.duringRun === false
            ? ''
            : data.dispatchedLink === true
              ? ' after dispatching link, before the job was marked done'
              : data.dispatchedLink === false
                ? ' mid-task, before dispatching any callback'
                : '';
        steps.push(`${event.lane} (pid ${String(data.pid)}) was ${how}${when}`);
        break;
      }
      case 'job-stalled':
        steps.push(`job stalled: its lock expired and the stall check of ${who(event)} moved it back to wait`);
        break;
      case 'picked-up':
        if (typeof data.deferredFailure === 'string' && data.deferredFailure) {
          steps.push(`${who(event)} picked it up, already marked to fail ("${data.deferredFailure}", ${EVAL_QUEUES[queue].describe})`);
        } else if (typeof data.attemptsStarted === 'number' && data.attemptsStarted > 1) {
          steps.push(`${who(event)} picked it up again and ran it a second time (${EVAL_QUEUES[queue].describe})`);
        }
        break;
      case 'store-failed':
        steps.push(
          data.lockLost === true
            ? `${who(event)} finished late: moveToFinished refused to store its result (${String(data.message)})`
            : data.unserializable === true
              ? `moveToCompleted failed: the result could not be serialized (${String(data.message)}); ${who(event)} took the failure path`
              : `moveToCompleted failed (${String(data.message)}); ${who(event)} took the failure path`,
        );
        break;
      case 'fail-store-failed':
        steps.push(`${who(event)} could not mark it failed either (${String(data.message)}); BullMQ only emitted \`error\``);
        break;
      case 'job-completed':
        steps.push(`${who(event)} stored the result (moveToCompleted, \`completed\`)`);
        break;
      case 'job-failed':
        if (data.reason === STALLED_LIMIT_REASON) {
          steps.push(`${who(event)} failed it: "${STALLED_LIMIT_REASON}" (\`failed\` → link_error)`);
        } else {
          steps.push(`${who(event)} moved it to failed (moveToFailed, \`failed\` → link_error)`);
        }
        break;
      default:
        break;
    }
  }
  if (outcome === 'lost') {
    steps.push(`no stall check watches queue ${queue}: the job stays active forever and no callback runs; only the busy marker's TTL can return the executor`);
  }
  if (outcome === 'timed-out') steps.push(`the run did not finish within ${timeoutMs} ms`);
  return steps.join('; ') || 'nothing happened';
}
