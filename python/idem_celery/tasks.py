"""The eval task and its two cleanup callbacks, as the talk writes them.

    evaluate.apply_async(kwargs={'payload': p},
                         link=release_on_success.s(payload=p),
                         link_error=release_on_failure.s(payload=p))

Both callbacks release the eval's executor with the SAME scripts the server uses
(lua/release_executor.lua, or the naive DEL + LPUSH of attempt 2), on the keys the
server named in the payload. Nothing here calls a callback: Celery does, and the
faults below only put Celery in the situations where it calls both, or one twice.

A fault strikes once per run (a marker in Redis): a task Celery runs again runs healthily.
"""
import json
import os
import signal
import time

import redis
from celery import Task, current_task, signals
from celery.backends.redis import RedisBackend

from . import events
from .app import app
from .lua_scripts import LuaScripts
from .settings import EVAL_QUEUE, LANE, LIMITED_BACKEND_URL, POOL_REDIS_URL

CLEANUP_LANE = 'cleanup-job'

# Which eval task each fault uses: acks_late and reject_on_worker_lost are task settings.
ACKS_LATE_FAULTS = {'worker-killed', 'worker-killed-dedup', 'worker-killed-stored', 'worker-killed-stored-dedup',
                    'visibility-timeout'}
REJECT_ON_LOST_FAULTS = {'child-killed-reject'}
# Faults that kill a process right after `link` was published (before the result is stored).
KILL_AFTER_LINK = {'child-killed': 'child', 'child-killed-reject': 'child', 'worker-killed': 'worker',
                   'worker-killed-dedup': 'worker'}
# Faults that kill the whole worker after the result is stored, before the message is acknowledged.
KILL_AFTER_STORE = {'worker-killed-stored': 'worker', 'worker-killed-stored-dedup': 'worker'}
# Faults whose eval raises (the failure path, with nothing else wrong).
RAISING_FAULTS = {'task-fails', 'result-get-fails'}
# Faults whose eval stores its result on the limited backend (a redis-server with proto-max-bulk-len 1mb).
LIMITED_BACKEND_FAULTS = {'result-too-large'}
# What the result-too-large eval returns: 2 MB, twice what the limited backend's Redis takes in one value.
TOO_LARGE_BYTES = 2 * 1024 * 1024

_pool_redis = None
_pool_redis_pid = None
_scripts = None
_in_pool_child = False


def pool_redis():
    global _pool_redis, _pool_redis_pid, _scripts
    if _pool_redis is None or _pool_redis_pid != os.getpid():
        _pool_redis = redis.Redis.from_url(POOL_REDIS_URL, socket_timeout=5)
        _pool_redis_pid = os.getpid()
        _scripts = LuaScripts(_pool_redis)
    return _pool_redis


def scripts():
    pool_redis()
    return _scripts


@signals.worker_process_init.connect
def _mark_pool_child(**_):
    global _in_pool_child
    _in_pool_child = True


def where():
    return 'pool child' if _in_pool_child else 'worker main process'


def fire_once(payload, point):
    """True the first time a run reaches its fault's checkpoint."""
    return bool(events.client().set(f'idem-celery:fault-fired:{payload["run"]}', point, nx=True, ex=120))


def count_call(payload, callback):
    """Counts the callback in Redis, by the eval's task id: what tests count, whatever any log says."""
    key = f'idem-celery:calls:{payload["taskId"]}'
    pipe = events.client().pipeline()
    pipe.hincrby(key, callback, 1)
    pipe.expire(key, 3600)
    pipe.execute()


class ExecutorHandle:
    """An eval result that pickles but is not JSON: stored with a JSON result serializer, it cannot be."""

    def __init__(self, executor):
        self.executor = executor

    def __repr__(self):
        return f'ExecutorHandle({self.executor!r})'


def job(task_id):
    """The job an event is about, in the timeline's terms: the queue and the Celery task id."""
    return {'queue': EVAL_QUEUE, 'jobId': task_id}


def release(payload, callback, lane, task_id):
    """Releases the payload's executor, as the run asked (Lua or naive), and reports Redis' reply."""
    run = payload['run']
    keys = payload['keys']
    executor = payload['executor']
    count_call(payload, callback)
    how = 'the idempotent Lua release' if payload['release'] == 'lua' else 'the naive release (DEL + LPUSH)'
    events.report(run, 'callback-started', f'{callback} releases {executor} to pool {payload["pool"]} with {how} ({where()})',
                  lane=lane, data={**job(task_id), 'callback': callback, 'pool': payload['pool'], 'executor': executor,
                                   'release': payload['release']})
    entry = json.dumps({'url': executor}, separators=(',', ':'))
    try:
        if payload['release'] == 'lua':
            raw = scripts().run('release_executor', [keys['busy'], keys['available'], keys['releaseTimes']], [executor, entry])
        else:
            pipe = pool_redis().pipeline(transaction=True)
            pipe.delete(keys['busy'])
            pipe.lpush(keys['available'], entry)
            raw = pipe.execute()
    except Exception as exc:  # reported, then Celery handles it as it would
        events.report(run, 'callback-error', f'{callback} could not release {executor}: {exc}', lane=lane,
                      data={**job(task_id), 'callback': callback, 'executor': executor, 'message': str(exc)})
        raise
    raw = [part.decode() if isinstance(part, bytes) else part for part in raw]
    # The server turns the raw reply into the protocol's ReleaseReply (one place decides what a reply means).
    events.report(run, 'release-reply', f'{callback}\'s release: {raw}', lane='redis', pid=None,
                  at=raw[3] if payload['release'] == 'lua' else None,
                  data={**job(task_id), 'callback': callback, 'callbackLane': lane, 'callbackPid': os.getpid(),
                        'release': payload['release'], 'executor': executor, 'raw': raw})
    return raw


class EvalTask(Task):
    """The eval. Its on_success is where two of the faults strike (after `link` went out)."""

    def on_success(self, retval, task_id, args, kwargs):
        payload = kwargs.get('payload') or {}
        fault = payload.get('fault')
        if fault == 'on-success-raises' and fire_once(payload, 'on_success'):
            events.report(payload['run'], 'hook-fault', 'Task.on_success raises: link is already out, the result already stored',
                          data={**job(task_id), 'point': 'on_success', 'effect': 'raises'})
            raise RuntimeError('on_success failed: could not write the eval report')
        if fault == 'time-limit-on-success' and fire_once(payload, 'on_success'):
            events.report(payload['run'], 'hook-fault', 'Task.on_success is slow: the hard time limit strikes inside it',
                          data={**job(task_id), 'point': 'on_success', 'effect': 'hangs'})
            time.sleep(30)


def _evaluate(self, payload):
    run = payload['run']
    fault = payload['fault']
    task_id = self.request.id
    redelivered = bool((self.request.delivery_info or {}).get('redelivered'))
    how = f'{self.name}{", acks_late" if self.acks_late else ""}{", redelivered" if redelivered else ""}'
    if fault in RAISING_FAULTS:
        message = f'eval {payload["evalId"]} failed: the executor exited with status 1'
        events.report(run, 'task-raised', f'{LANE} runs eval {payload["evalId"]} ({how}): it raises', data={**job(task_id), 'message': message})
        raise RuntimeError(message)
    events.report(run, 'task-ran', f'{LANE} runs eval {payload["evalId"]} on {payload["executor"]} ({how})',
                  data={**job(task_id), 'evalId': payload['evalId'], 'executor': payload['executor']})
    if fault == 'time-limit' and fire_once(payload, 'body'):
        events.report(run, 'hook-fault', 'the eval hangs: the hard time limit will strike',
                      data={**job(task_id), 'point': 'body', 'effect': 'hangs'})
        time.sleep(30)
    if fault == 'visibility-timeout' and fire_once(payload, 'body'):
        seconds = payload.get('slowSeconds', 4)
        events.report(run, 'hook-fault', f'the eval takes {seconds} s, longer than the visibility timeout',
                      data={**job(task_id), 'point': 'body', 'effect': 'slow'})
        time.sleep(seconds)
    target = KILL_AFTER_LINK.get(fault)
    if target and not payload['callbacks']['link'] and fire_once(payload, 'after-link'):
        # No link attached: the kill strikes where link would have gone out.
        _kill(payload, target, 'before-result-stored', 'at the end of the eval (no link attached), before the result is stored')
    if fault == 'result-unstorable':
        return ExecutorHandle(payload['executor'])
    if fault == 'result-too-large':
        # An eval report with its 2 MB log attached: link carries it through the broker, the backend refuses it.
        return {'evalId': payload['evalId'], 'executor': payload['executor'], 'score': 0.87, 'log': 'x' * TOO_LARGE_BYTES}
    return {'evalId': payload['evalId'], 'executor': payload['executor'], 'score': 0.87}


evaluate = app.task(name='idem.eval', base=EvalTask, bind=True)(_evaluate)
evaluate_acks_late = app.task(name='idem.eval_acks_late', base=EvalTask, bind=True, acks_late=True)(_evaluate)
evaluate_reject_on_lost = app.task(name='idem.eval_reject_on_lost', base=EvalTask, bind=True, acks_late=True,
                                   reject_on_worker_lost=True)(_evaluate)



class LimitedRedisBackend(RedisBackend):
    """Celery's own Redis result backend, on the redis-server started with `--proto-max-bulk-len 1mb`.

    Redis answers a 2 MB SET by closing the connection; Celery retries a lost connection
    (backends/redis.py:373 ensure) 20 times, a second apart by default. One retry here:
    timings shortened for the stage, the same path.
    """

    retry_policy = {'max_retries': 1, 'interval_start': 0, 'interval_step': 0.2, 'interval_max': 0.2}


# The eval whose result goes to the limited backend: a task's own `backend`, which the tracer
# uses for mark_as_done and mark_as_failure (app/trace.py build_tracer).
evaluate_limited_backend = app.task(name='idem.eval_limited_backend', base=EvalTask, bind=True)(_evaluate)
if LIMITED_BACKEND_URL:
    evaluate_limited_backend.backend = LimitedRedisBackend(app=app, url=LIMITED_BACKEND_URL)


def eval_task_for(fault):
    if fault in LIMITED_BACKEND_FAULTS:
        if not LIMITED_BACKEND_URL:
            raise RuntimeError(f'{fault} needs the limited result backend (IDEM_CELERY_LIMITED_BACKEND_URL is not set)')
        return evaluate_limited_backend
    if fault in REJECT_ON_LOST_FAULTS:
        return evaluate_reject_on_lost
    if fault in ACKS_LATE_FAULTS:
        return evaluate_acks_late
    return evaluate


@app.task(name='idem.release_on_success', ignore_result=True)
def release_on_success(result, payload=None):
    """`link`: Celery queues it as a task of its own, with the eval's result."""
    return release(payload, 'link', CLEANUP_LANE, current_task.request.id)


@app.task(name='idem.release_on_failure', ignore_result=True)
def release_on_failure(request, exc, traceback, payload=None):
    """`link_error`, new-style (request, exc, traceback): Celery calls it directly, in the process that saw the failure."""
    task_id = getattr(request, 'id', None) or payload['taskId']
    events.report(payload['run'], 'errback-called', f'Celery calls link_error directly, in the {where()} of {LANE}: {exc!r}',
                  data={**job(task_id), 'process': where(), 'exception': repr(exc)})
    return release(payload, 'link_error', LANE, task_id)


def _payload_of_current_eval():
    task = current_task
    if task is None or not task.name.startswith('idem.eval'):
        return None
    return (task.request.kwargs or {}).get('payload')


def _kill(payload, target, phase, point):
    pid = os.getpid()
    if target == 'child':
        what = f'the pool child (pid {pid})'
    else:
        what = f'the whole worker {LANE} (process group {os.getpgid(0)})'
    events.report(payload['run'], 'kill-requested', f'{LANE}: SIGKILL to {what}, {point}',
                  data={**job(payload['taskId']), 'phase': phase})
    if target == 'child':
        os.kill(pid, signal.SIGKILL)
    else:
        os.killpg(os.getpgid(0), signal.SIGKILL)
    time.sleep(10)


@signals.after_task_publish.connect
def _after_publish(sender=None, headers=None, **_):
    """`link` has left the eval's process: the kill-after-link faults strike here."""
    if sender != 'idem.release_on_success':
        return
    payload = _payload_of_current_eval()
    if not payload:
        return
    events.report(payload['run'], 'link-dispatched', f'{LANE} queued link as task {headers.get("id")}, before storing the result',
                  data={**job(payload['taskId']), 'linkQueue': EVAL_QUEUE, 'linkJobId': headers.get('id')})
    target = KILL_AFTER_LINK.get(payload['fault'])
    if target and fire_once(payload, 'after-link'):
        _kill(payload, target, 'after-link-dispatched', 'after link went out, before the result is stored')


@signals.task_success.connect
def _after_store(sender=None, **_):
    payload = _payload_of_current_eval()
    if not payload:
        return
    events.report(payload['run'], 'job-completed', f'{LANE} stored the eval\'s result: SUCCESS', data=job(payload['taskId']))
    target = KILL_AFTER_STORE.get(payload['fault'])
    if target and fire_once(payload, 'after-store'):
        _kill(payload, target, 'after-result-stored', 'after the result is stored, before the message is acknowledged')


@signals.task_failure.connect
def _on_failure(sender=None, task_id=None, exception=None, **_):
    if sender is None or not sender.name.startswith('idem.eval'):
        return
    # The failure signal carries no kwargs in every path (WorkerLostError): find the run from the request.
    request = getattr(sender, 'request', None)
    payload = (getattr(request, 'kwargs', None) or {}).get('payload') if request else None
    run = payload['run'] if payload else _run_of_task(task_id)
    events.report(run, 'job-failed', f'{LANE} ({where()}) marked the eval FAILURE: {exception!r}',
                  data={**job(task_id), 'reason': repr(exception)})


def _run_of_task(task_id):
    value = events.client().get(f'idem-celery:run-of:{task_id}')
    return value.decode() if value else None


@signals.task_postrun.connect
def _done_with_eval(sender=None, kwargs=None, state=None, **_):
    """The eval's process is done with it (hooks included): what the server waits for before a run may end."""
    if sender is None or not sender.name.startswith('idem.eval'):
        return
    payload = (kwargs or {}).get('payload')
    if payload:
        events.report(payload['run'], 'task-finished', f'{LANE} is done with the eval (task_postrun, state {state})',
                      data={**job(payload['taskId']), 'state': state})
