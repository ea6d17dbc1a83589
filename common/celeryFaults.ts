/**
 * The Celery faults: each puts real Celery in a situation where it runs both
 * callbacks of one task, or one of them twice, through its own machinery (a
 * raising hook, an unstorable result, a SIGKILL, a redelivery, a hard time
 * limit). Nothing calls a callback by hand. Source lines are Debian's
 * python3-celery 5.2.6 / kombu 5.2.4 / billiard 4.1.0.
 *
 * `expected` is what `npm run celery:reproduce` measured (five runs each,
 * callbacks counted from Redis). One list for the server's Celery runtime, the
 * reproduce script and the deck's Celery slide: it is plain data, safe in a browser.
 */
import type { CeleryFaultName } from '../server/protocol.ts';

export interface CeleryFault {
  /** For the menu and the slide. */
  label: string;
  /** worker_deduplicate_successful_tasks on the workers (a worker setting: changing it restarts them). */
  deduplicate: boolean;
  /** Hard task_time_limit of the eval, seconds (null: none). */
  timeLimitSeconds: number | null;
  /** The callbacks Celery runs when both are attached, as measured. */
  expected: { link: number; linkError: number };
  /** What Celery does, in words. */
  mechanism: string;
  /** Where in Celery's source it happens. */
  source: string;
  /** Sent as a chain (eval, release) with .on_error(), frozen first, as bug #6737 reports; else with apply_async(link=, link_error=). */
  frozenChain?: boolean;
  /** The eval's result goes to a backend on a redis-server with `--proto-max-bulk-len 1mb` (the runtime starts it). */
  limitedBackend?: boolean;
  /**
   * Once the eval (slow, acks_late) has been unacknowledged for longer than the visibility timeout, the
   * runtime restarts every other worker (warm shutdown, then a new `celery worker`), as a deploy or a
   * scale-up would; the eval is left alone (celeryRuntime.ts restartIdleWorkers).
   */
  restartIdleWorker?: boolean;
  /** What the reproduced count counts, when it is a control and not the claim's mechanism ("once", "no extra callback"). */
  counts?: string;
}

export const CELERY_FAULTS: Record<CeleryFaultName, CeleryFault> = {
  none: {
    label: 'healthy',
    deduplicate: false,
    timeLimitSeconds: null,
    expected: { link: 1, linkError: 0 },
    mechanism: 'the eval succeeds: link is queued, the result stored',
    source: 'celery/app/trace.py:504 (link), :518 (mark_as_done)',
  },
  'task-fails': {
    label: 'the eval raises',
    deduplicate: false,
    timeLimitSeconds: null,
    expected: { link: 0, linkError: 1 },
    mechanism: 'the eval raises: on_error marks it failed and calls link_error',
    source: 'celery/backends/base.py:220 (errbacks after mark_as_failure)',
  },
  'on-success-raises': {
    label: 'Task.on_success raises',
    deduplicate: false,
    timeLimitSeconds: null,
    expected: { link: 1, linkError: 1 },
    mechanism:
      'link is queued and the result stored; then Task.on_success raises, the tracer takes the failure path and calls link_error (the stored SUCCESS stays: the backend never overwrites one, base.py:958)',
    source: 'celery/app/trace.py:527 (on_success) → :572 (on_error) → backends/base.py:220',
  },
  'result-unstorable': {
    label: 'the result cannot be stored',
    deduplicate: false,
    timeLimitSeconds: null,
    expected: { link: 1, linkError: 1 },
    mechanism: 'link is queued (pickle), then the JSON result serializer cannot encode the result: EncodeError, failure path, link_error',
    source: 'celery/app/trace.py:504 (link) → :518 mark_as_done raises EncodeError → :520 on_error',
  },
  'result-too-large': {
    label: 'a 2 MB result, backend with proto-max-bulk-len 1mb',
    limitedBackend: true,
    deduplicate: false,
    timeLimitSeconds: null,
    expected: { link: 1, linkError: 1 },
    mechanism:
      'link is queued with the 2 MB result; mark_as_done sends it to a backend whose Redis takes at most 1 MB: Redis drops the connection, Celery retries, gives up (ConnectionError), stores the failure and calls link_error',
    source: 'celery/app/trace.py:504 (link) → :518 mark_as_done → backends/redis.py:392 (ensure, retried) → trace.py:572 on_error → backends/base.py:220',
  },
  'child-killed': {
    label: 'pool child SIGKILLed after link',
    deduplicate: false,
    timeLimitSeconds: null,
    expected: { link: 1, linkError: 1 },
    mechanism: 'the pool child dies after link went out; the worker main process sees WorkerLostError, marks the failure and calls link_error itself',
    source: 'celery/worker/request.py:584 (mark_as_failure after WorkerLostError)',
  },
  'worker-killed': {
    label: 'whole worker SIGKILLed after link (acks_late)',
    deduplicate: false,
    timeLimitSeconds: null,
    expected: { link: 2, linkError: 0 },
    mechanism: 'the message was never acknowledged (acks_late); a restarting worker restores it after the visibility timeout and the eval runs again: link twice',
    source: 'kombu/transport/redis.py:396 restore_visible (at a worker\'s start, :536)',
  },
  'worker-killed-dedup': {
    label: '… with worker_deduplicate_successful_tasks',
    deduplicate: true,
    timeLimitSeconds: null,
    expected: { link: 2, linkError: 0 },
    mechanism: 'the same kill, before the result was stored: the redelivered eval finds no SUCCESS in the backend, so deduplication lets it run again: link twice',
    source: 'celery/app/trace.py:409-427 (checks the backend for SUCCESS)',
  },
  'worker-killed-stored': {
    label: 'whole worker SIGKILLed after the result is stored (acks_late)',
    deduplicate: false,
    timeLimitSeconds: null,
    expected: { link: 2, linkError: 0 },
    mechanism: 'killed after mark_as_done, before the ack: the message is restored and the eval runs again: link twice',
    source: 'kombu/transport/redis.py:396 restore_visible',
  },
  'worker-killed-stored-dedup': {
    label: '… with worker_deduplicate_successful_tasks',
    deduplicate: true,
    timeLimitSeconds: null,
    expected: { link: 1, linkError: 0 },
    mechanism: 'the redelivered eval finds SUCCESS in the backend and is skipped: link once',
    source: 'celery/app/trace.py:409-427',
  },
  'child-killed-reject': {
    label: 'pool child SIGKILLed, task_reject_on_worker_lost',
    deduplicate: false,
    timeLimitSeconds: null,
    expected: { link: 2, linkError: 0 },
    mechanism: 'WorkerLostError with reject_on_worker_lost: the message is requeued, not failed, and the eval runs again: link twice',
    source: 'celery/worker/request.py:571 (reject(requeue=True))',
  },
  'time-limit': {
    label: 'hard task_time_limit',
    deduplicate: false,
    timeLimitSeconds: 1,
    expected: { link: 0, linkError: 2 },
    mechanism: 'the hard time limit kills the child; billiard fails the job (request.py:584 → link_error), then Request.on_timeout marks the failure again (→ link_error)',
    source: 'billiard/pool.py:685 and celery/worker/request.py:492',
  },
  'time-limit-on-success': {
    label: 'hard time limit inside on_success',
    deduplicate: false,
    timeLimitSeconds: 1,
    expected: { link: 1, linkError: 2 },
    mechanism: 'link already queued, then the hard limit strikes in on_success: two link_errors on top',
    source: 'billiard/pool.py:685 and celery/worker/request.py:492',
  },
  'visibility-timeout': {
    label: 'the eval outlives the visibility timeout while another worker starts (no crash)',
    restartIdleWorker: true,
    deduplicate: false,
    timeLimitSeconds: null,
    expected: { link: 2, linkError: 0 },
    mechanism:
      'the eval (acks_late) runs past the visibility timeout; meanwhile the idle worker restarts, as in a deploy. Starting, it restores the unacknowledged message and runs the eval again while the first worker still runs it: link twice. A worker already up restores only every ~100 s: with no start, link once',
    source: 'kombu/transport/redis.py:536 on_poll_init (a worker starting) → :396 restore_visible; :1314 + :398 (every 10th 10-s tick)',
  },
  'chain-frozen-v1': {
    label: 'bug #6737: chain(eval, release).on_error(…), frozen, task protocol 1',
    frozenChain: true,
    deduplicate: false,
    timeLimitSeconds: null,
    expected: { link: 2, linkError: 0 },
    mechanism:
      'on protocol 1 a chain links its steps with link. freeze() links eval → release; apply_async links them again after adding the on_error errback to the release step, so append_to_list_option finds no equal link and appends it: the eval\'s message carries the release step twice, and it runs twice',
    source: 'celery/canvas.py:702 (protocol 1: use_link), :794 then :787 task.link → :344 append_to_list_option; github.com/celery/celery/issues/6737',
  },
  'chain-frozen-v2': {
    label: 'the same frozen chain with on_error, task protocol 2',
    frozenChain: true,
    counts: 'link once',
    deduplicate: false,
    timeLimitSeconds: null,
    expected: { link: 1, linkError: 0 },
    mechanism: 'on protocol 2 (the default since Celery 4) a chain\'s next step travels in the message\'s chain field, not as a link: freezing first changes nothing, the release step runs once',
    source: 'celery/canvas.py:702 (link only on protocol 1), app/trace.py:512 (chain.pop)',
  },
  'link-v1': {
    label: 'plain link and link_error, task protocol 1',
    counts: 'link once',
    deduplicate: false,
    timeLimitSeconds: null,
    expected: { link: 1, linkError: 0 },
    mechanism: 'apply_async(link=…, link_error=…) on protocol 1, no chain: the eval\'s message carries one link, and it runs once',
    source: 'celery/app/amqp.py:366 (as_task_v1: callbacks, errbacks)',
  },
  'result-get': {
    label: 'the client waits with .get() (result pubsub), eval succeeds',
    counts: 'no extra callback',
    deduplicate: false,
    timeLimitSeconds: null,
    expected: { link: 1, linkError: 0 },
    mechanism:
      'the client subscribed to the result\'s channel when it sent the eval, and .get() reads it until SUCCESS; link and the stored result come from the worker as without it: no extra callback',
    source: 'celery/backends/redis.py:363 on_task_call (subscribe), :150 drain_events (pubsub), :392 set (SET + PUBLISH)',
  },
  'result-get-fails': {
    label: 'the client waits with .get(), eval raises',
    counts: 'no extra callback',
    deduplicate: false,
    timeLimitSeconds: null,
    expected: { link: 0, linkError: 1 },
    mechanism: 'the same wait on a failing eval: .get() reads FAILURE from the channel; link_error runs once, as without it: no extra callback',
    source: 'celery/backends/redis.py:150 drain_events; backends/base.py:220 (errbacks after mark_as_failure)',
  },
};

