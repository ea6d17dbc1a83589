"""What a task reports: one entry per step on a Redis stream the driver reads.

Reports go to Redis, not to a log: a process may be SIGKILLed a moment later,
and what it said before must still reach the timeline.
"""
import json
import os
import time

import redis

from .settings import BROKER_URL, EVENTS_KEY, LANE

_client = None


def client():
    global _client
    if _client is None or _client_pid != os.getpid():
        _reconnect()
    return _client


_client_pid = None


def _reconnect():
    global _client, _client_pid
    _client = redis.Redis.from_url(BROKER_URL, socket_timeout=5)
    _client_pid = os.getpid()


def report(run, kind, text, *, lane=None, pid='self', data=None, at=None):
    entry = {
        'run': run or '',
        'kind': kind,
        'text': text,
        'lane': lane or LANE,
        'pid': os.getpid() if pid == 'self' else pid,
        'at': at if at is not None else int(time.time() * 1000),
    }
    if data is not None:
        entry['data'] = data
    client().xadd(EVENTS_KEY, {'event': json.dumps(entry)}, maxlen=5000, approximate=True)
