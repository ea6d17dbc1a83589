"""The server's one handle on Celery: JSON lines in on stdin, JSON lines out on stdout.

In:
  {"type": "run", "run": KEY, "taskId": ID, "payload": {...}, "timeLimit": SECONDS or null}
      sends the eval with apply_async(link=release_on_success, link_error=release_on_failure),
      or as the fault says (send_run)
  {"type": "forget", "run": KEY}       the server is done with the run
Out:
  {"type": "ready"}
  {"type": "sent", "run": KEY, "taskId": ID, "task": NAME}   the eval is in the broker
  {"type": "message", "run": KEY, "taskId": ID, "protocol": 1|2, "links": N, "errbacks": N, "chained": N}
      what the eval's message carried as it was published (the #6737 faults)
  {"type": "awaited", "run": KEY, "taskId": ID, "subscribers": N, "state": STATE}
  {"type": "got", "run": KEY, "taskId": ID, "state": STATE, "ms": N, "seen": [STATE...]}
      the driver waits on the eval's result with .get(), and what it got (the result-get faults)
  {"type": "event", "event": {...}}    a step a task reported (see events.py)
  {"type": "status", "run": KEY, "state": STATE, "pending": N}
      the eval's state in the result backend, and how many messages of the run are
      still queued or delivered-but-unacknowledged in the broker; sent on every change
  {"type": "error", "run": KEY or null, "message": TEXT}
"""
import json
import queue
import sys
import threading
import time
import uuid

import redis
from celery import Celery, chain, signals

from . import events
from .app import CONFIG, app
from .settings import BROKER_URL, EVAL_QUEUE, EVENTS_KEY, LIMITED_BACKEND_URL
from .tasks import LIMITED_BACKEND_FAULTS, eval_task_for, release_on_failure, release_on_success

_out_lock = threading.Lock()


def emit(message):
    with _out_lock:
        sys.stdout.write(json.dumps(message) + '\n')
        sys.stdout.flush()


def read_stdin(inbox):
    for line in sys.stdin:
        line = line.strip()
        if line:
            inbox.put(line)
    inbox.put(None)


# How the eval is sent, per fault; by default apply_async(link=..., link_error=...) on task protocol 2.
# Bug #6737's shape: a chain (eval | release) with .on_error(), frozen before it is sent, on protocol 1;
# and the shapes that differ from it in one respect each.
FROZEN_CHAIN_FAULTS = {'chain-frozen-v1', 'chain-frozen-v2'}
PROTOCOL_1_FAULTS = {'chain-frozen-v1', 'link-v1'}
# The driver waits on the eval's result with .get(), which the Redis result backend serves over pubsub.
AWAIT_RESULT_FAULTS = {'result-get', 'result-get-fails'}
GET_TIMEOUT_SECONDS = 25

_protocol_1 = None
_waiter = None


def protocol_1_client():
    """A client app that sends with task protocol 1. The protocol is read once per app
    (app/amqp.py:234, a cached property), so it is an app of its own; it only sends, by
    task name, and the workers read both protocols."""
    global _protocol_1
    if _protocol_1 is None:
        _protocol_1 = Celery('idem-protocol-1', broker=BROKER_URL, backend=BROKER_URL, set_as_current=False)
        _protocol_1.conf.update(CONFIG, task_protocol=1)
    return _protocol_1


def send_run(command, runs):
    run = command['run']
    task_id = command.get('taskId') or str(uuid.uuid4())
    payload = {**command['payload'], 'run': run, 'taskId': task_id}
    fault = payload['fault']
    task = eval_task_for(fault)
    events.client().set(f'idem-celery:run-of:{task_id}', run, ex=3600)
    _finish_waiting()
    options = {'task_id': task_id}
    if command.get('timeLimit'):
        options['time_limit'] = command['timeLimit']
    if fault in PROTOCOL_1_FAULTS | FROZEN_CHAIN_FAULTS:
        _watched.update(run=run, taskId=task_id)
    try:
        if fault in FROZEN_CHAIN_FAULTS:
            result = _send_frozen_chain(payload, options, protocol_1=fault in PROTOCOL_1_FAULTS)
        else:
            result = _send_linked(task, payload, options, protocol_1=fault in PROTOCOL_1_FAULTS)
    finally:
        _watched.clear()
    runs[run] = {'taskId': task_id, 'last': None, 'backend': _limited_backend() if fault in LIMITED_BACKEND_FAULTS else None}
    emit({'type': 'sent', 'run': run, 'taskId': task_id, 'task': task.name})
    if fault in AWAIT_RESULT_FAULTS:
        _await_result(run, result)


def _signatures(payload, app_=None):
    """The callbacks as the talk attaches them, bound to `app_` (by name: sent by that app's protocol)."""
    if app_ is None:
        link = release_on_success.s(payload=payload)
        if payload['fault'] == 'result-unstorable':
            # A project whose tasks are pickle: the link message carries the result as pickle.
            link = link.set(serializer='pickle')
        return link, release_on_failure.s(payload=payload)
    return (app_.signature(release_on_success.name, kwargs={'payload': payload}),
            app_.signature(release_on_failure.name, kwargs={'payload': payload}))


def _send_linked(task, payload, options, protocol_1):
    client = protocol_1_client() if protocol_1 else None
    link, errback = _signatures(payload, client)
    if payload['callbacks']['link']:
        options['link'] = link
    if payload['callbacks']['linkError']:
        options['link_error'] = errback
    if client is None:
        return task.apply_async(kwargs={'payload': payload}, **options)
    return client.signature(task.name, kwargs={'payload': payload}).apply_async(**options)


def _send_frozen_chain(payload, options, protocol_1):
    """chain(eval, release_on_success).on_error(release_on_failure), frozen, then sent: the bug report's steps."""
    client = protocol_1_client() if protocol_1 else app
    link, errback = _signatures(payload, client)
    evaluate_step = client.signature(eval_task_for(payload['fault']).name, kwargs={'payload': payload}, **options)
    steps = chain(evaluate_step, link, app=client) if payload['callbacks']['link'] else chain(evaluate_step, app=client)
    if payload['callbacks']['linkError']:
        steps = steps.on_error(errback)
    steps.freeze()
    steps.apply_async()
    return client.AsyncResult(options['task_id'])


# The run whose eval message is being published: what it carries is reported (protocol faults only).
_watched = {}


@signals.before_task_publish.connect
def _eval_message(sender=None, body=None, headers=None, **_):
    """What the eval's message carries as it goes to the broker: its link and link_error lists, its chain."""
    if not _watched:
        return
    if isinstance(body, dict):  # protocol 1: everything in the body
        protocol, task_id, embed = 1, body.get('id'), body
    else:  # protocol 2: (args, kwargs, embed), the id in the headers
        protocol, task_id, embed = 2, (headers or {}).get('id'), body[2]
    if task_id != _watched['taskId']:
        return
    emit({'type': 'message', 'run': _watched['run'], 'taskId': task_id, 'protocol': protocol,
          'links': len(embed.get('callbacks') or []), 'errbacks': len(embed.get('errbacks') or []),
          'chained': len(embed.get('chain') or [])})


def _await_result(run, result):
    """.get() on the eval's result in a thread of its own (the driver goes on streaming steps meanwhile).

    The backend subscribed to the result's channel when the eval was sent (backends/redis.py on_task_call);
    .get() reads that channel (ResultConsumer.drain_events) until the state is final."""
    global _waiter
    channel = f'celery-task-meta-{result.id}'
    subscribers = dict(events.client().pubsub_numsub(channel)).get(channel.encode(), 0)
    meta = events.client().get(channel)
    emit({'type': 'awaited', 'run': run, 'taskId': result.id, 'subscribers': subscribers,
          'state': json.loads(meta)['status'] if meta else 'PENDING'})

    def wait():
        seen = []
        started = time.monotonic()
        try:
            result.get(timeout=GET_TIMEOUT_SECONDS, propagate=False, on_message=lambda m: seen.append(m['status']))
            state = result.state
        except Exception as exc:  # a timeout: said so, the run's own deadline decides
            state = f'{type(exc).__name__}: {exc}'
        emit({'type': 'got', 'run': run, 'taskId': result.id, 'state': state,
              'ms': round((time.monotonic() - started) * 1000), 'seen': seen})

    _waiter = threading.Thread(target=wait, name='result-get', daemon=True)
    _waiter.start()


def _finish_waiting():
    """One .get() at a time: the backend's pubsub connection is not shared between threads."""
    if _waiter is not None:
        _waiter.join(GET_TIMEOUT_SECONDS + 1)


def _belongs(message, task_id):
    if not isinstance(message, dict):
        try:
            message = json.loads(message)
        except ValueError:
            return False
    headers = message.get('headers') or {}
    return task_id in (headers.get('id'), headers.get('root_id'), headers.get('parent_id'))


_limited = None


def _limited_backend():
    """The limited result backend's Redis, where the result-too-large eval's state is stored."""
    global _limited
    if _limited is None:
        _limited = redis.Redis.from_url(LIMITED_BACKEND_URL, socket_timeout=5)
    return _limited


def status_of(task_id, backend=None):
    client = events.client()
    meta = (backend or client).get(f'celery-task-meta-{task_id}')
    state = json.loads(meta)['status'] if meta else 'PENDING'
    pending = 0
    for raw in client.lrange(EVAL_QUEUE, 0, -1):
        pending += _belongs(raw, task_id)
    for raw in client.hvals('unacked'):
        try:
            pending += _belongs(json.loads(raw)[0], task_id)
        except (ValueError, IndexError, TypeError):
            pass
    return state, pending


def main():
    inbox = queue.Queue()
    threading.Thread(target=read_stdin, args=(inbox,), daemon=True).start()
    client = events.client()
    last_id = (client.xrevrange(EVENTS_KEY, count=1) or [(b'0-0', None)])[0][0]
    runs = {}
    emit({'type': 'ready'})
    while True:
        while True:
            try:
                line = inbox.get_nowait()
            except queue.Empty:
                break
            if line is None:
                return
            try:
                command = json.loads(line)
                if command['type'] == 'run':
                    send_run(command, runs)
                elif command['type'] == 'forget':
                    runs.pop(command['run'], None)
            except Exception as exc:  # a bad command is answered, never fatal
                emit({'type': 'error', 'run': None, 'message': f'{type(exc).__name__}: {exc}'})
        for _, entries in client.xread({EVENTS_KEY: last_id}, block=100, count=200) or []:
            for entry_id, fields in entries:
                last_id = entry_id
                emit({'type': 'event', 'event': json.loads(fields[b'event'])})
        for run, tracked in list(runs.items()):
            try:
                current = status_of(tracked['taskId'], tracked['backend'])
            except Exception as exc:
                emit({'type': 'error', 'run': run, 'message': f'status: {exc}'})
                continue
            if current != tracked['last']:
                tracked['last'] = current
                emit({'type': 'status', 'run': run, 'state': current[0], 'pending': current[1]})


if __name__ == '__main__':
    main()
