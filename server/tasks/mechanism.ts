/**
 * Says what really happened in a run, for the audience, from the events the
 * workers observed (BullMQ's own events and errors), never from the fault's
 * name: if BullMQ did something else than the fault intended, this says so.
 */
import { CALLBACK_QUEUE, EVAL_QUEUES, type EvalQueueName } from './queues.ts';
import type { KillPhase } from '../protocol.ts';
import type { EvalRunOutcome, TimelineEvent } from './types.ts';

export const STALLED_LIMIT_REASON = 'job stalled more than allowable limit';

/** When a worker killed for a fault died, in words. */
const KILL_PHASE_WORDS: Record<KillPhase, string> = {
  'before-any-callback': ' mid-task, before dispatching any callback',
  'after-link-dispatched': ' after dispatching link, before the job was marked done',
  'before-result-stored': ' after the task ran (no link attached), before the job was marked done',
  'after-result-stored': ' after the result was stored, before the message was acknowledged',
};

export function describeMechanism(events: TimelineEvent[], outcome: EvalRunOutcome, queue: EvalQueueName, timeoutMs: number): string {
  const steps: string[] = [];
  // Steps of the eval's own job: a cleanup job's stall or failure is not how the eval fared.
  const isEvalEvent = (event: TimelineEvent) => !('queue' in event.data) || event.data.queue !== CALLBACK_QUEUE;
  // In the order things happened (a blocked worker reports late), not of arrival.
  const ordered = [...events].sort((a, b) => a.at - b.at || a.seq - b.seq);
  const who = (event: TimelineEvent) => (event.pid === null ? event.lane : `${event.lane} (pid ${event.pid})`);
  for (const event of ordered) {
    if (!isEvalEvent(event)) continue;
    switch (event.kind) {
      case 'task-raised':
        steps.push(`the task raised on ${who(event)}`);
        break;
      case 'event-loop-blocked':
        steps.push(`${who(event)} blocked its event loop for ${event.data.blockMs} ms, longer than its ${event.data.lockDurationMs} ms lock, so the lock was not renewed`);
        break;
      case 'worker-killed': {
        const { signal, code, pid, phase } = event.data;
        const how = signal ? `killed by ${signal}` : `exited with code ${String(code)}`;
        steps.push(`${event.lane} (pid ${pid}) was ${how}${phase ? KILL_PHASE_WORDS[phase] : ''}`);
        break;
      }
      case 'job-stalled':
        steps.push(`job stalled: its lock expired and the stall check of ${who(event)} moved it back to wait`);
        break;
      case 'picked-up':
        if (event.data.deferredFailure) {
          steps.push(`${who(event)} picked it up, already marked to fail ("${event.data.deferredFailure}", ${EVAL_QUEUES[queue].describe})`);
        } else if (event.data.attemptsStarted > 1) {
          steps.push(`${who(event)} picked it up again and ran it a second time (${EVAL_QUEUES[queue].describe})`);
        }
        break;
      case 'store-failed':
        steps.push(
          event.data.lockLost
            ? `${who(event)} finished late: moveToFinished refused to store its result (${event.data.message})`
            : event.data.unserializable
              ? `moveToCompleted failed: the result could not be serialized (${event.data.message}); ${who(event)} took the failure path`
              : `moveToCompleted failed (${event.data.message}); ${who(event)} took the failure path`,
        );
        break;
      case 'fail-store-failed':
        steps.push(`${who(event)} could not mark it failed either (${event.data.message}); BullMQ only emitted \`error\``);
        break;
      case 'job-completed':
        steps.push(`${who(event)} stored the result (moveToCompleted, \`completed\`)`);
        break;
      case 'job-failed':
        if (event.data.reason === STALLED_LIMIT_REASON) {
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
