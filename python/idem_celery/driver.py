"""The server's one handle on Celery: JSON lines in on stdin, JSON lines out on stdout.

In:
  {"type": "run", "run": KEY, "taskId": ID, "payload": {...}, "timeLimit": SECONDS or null}
      sends the eval with apply_async(link=release_on_success, link_error=release_on_failure)
  {"type": "forget", "run": KEY}       the server is done with the run
Out:
  {"type": "ready"}
  {"type": "sent", "run": KEY, "taskId": ID, "task": NAME}   the eval is in the broker
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
import uuid

from . import events
from .settings import EVAL_QUEUE, EVENTS_KEY
from .tasks import eval_task_for, release_on_failure, release_on_success

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


def send_run(command, runs):
    run = command['run']
    task_id = command.get('taskId') or str(uuid.uuid4())
    payload = {**command['payload'], 'run': run, 'taskId': task_id}
    task = eval_task_for(payload['fault'])
    events.client().set(f'idem-celery:run-of:{task_id}', run, ex=3600)
    link = release_on_success.s(payload=payload)
    if payload['fault'] == 'result-unstorable':
        # A project whose tasks are pickle: the link message carries the result as pickle.
        link = link.set(serializer='pickle')
    options = {}
    if command.get('timeLimit'):
        options['time_limit'] = command['timeLimit']
    if payload['callbacks']['link']:
        options['link'] = link
    if payload['callbacks']['linkError']:
        options['link_error'] = release_on_failure.s(payload=payload)
    task.apply_async(kwargs={'payload': payload}, task_id=task_id, **options)
    runs[run] = {'taskId': task_id, 'last': None}
    emit({'type': 'sent', 'run': run, 'taskId': task_id, 'task': task.name})


def _belongs(message, task_id):
    if not isinstance(message, dict):
        try:
            message = json.loads(message)
        except ValueError:
            return False
    headers = message.get('headers') or {}
    return task_id in (headers.get('id'), headers.get('root_id'), headers.get('parent_id'))


def status_of(task_id):
    client = events.client()
    meta = client.get(f'celery-task-meta-{task_id}')
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
                current = status_of(tracked['taskId'])
            except Exception as exc:
                emit({'type': 'error', 'run': run, 'message': f'status: {exc}'})
                continue
            if current != tracked['last']:
                tracked['last'] = current
                emit({'type': 'status', 'run': run, 'state': current[0], 'pending': current[1]})


if __name__ == '__main__':
    main()
