"""Everything the workers and the driver read from their environment, in one place.

The server starts both and sets these; nothing here has a default that could
point at someone else's Redis.
"""
import os
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _required(name):
    value = os.environ.get(name)
    if not value:
        raise RuntimeError(f'{name} is not set: the server sets it when it starts the Celery workers')
    return value


# The Redis holding the pools (the server's own).
POOL_REDIS_URL = _required('IDEM_POOL_REDIS_URL')
# Celery's broker and result backend: a database of its own, so Celery's keys never mix with the pools'.
BROKER_URL = _required('IDEM_CELERY_BROKER_URL')
# A second result backend, on a redis-server started with `--proto-max-bulk-len 1mb` (the server starts it):
# the result-too-large fault stores its eval's result there. Unset, that fault is refused.
LIMITED_BACKEND_URL = os.environ.get('IDEM_CELERY_LIMITED_BACKEND_URL') or None
# Where tasks report what they do (a Redis stream in the broker's database), read by the driver.
EVENTS_KEY = os.environ.get('IDEM_CELERY_EVENTS_KEY', 'idem-celery:events')
# Seconds after which an unacknowledged message may be delivered again (kombu's visibility_timeout).
VISIBILITY_TIMEOUT = float(os.environ.get('IDEM_CELERY_VISIBILITY_TIMEOUT', '1'))
# worker_deduplicate_successful_tasks, a worker setting: the server restarts the workers to change it.
DEDUPLICATE = os.environ.get('IDEM_CELERY_DEDUPLICATE', '0') == '1'
# The lane this worker draws on the timeline (`worker-1`, ...).
LANE = os.environ.get('IDEM_CELERY_LANE', 'driver')
LUA_DIR = Path(os.environ.get('IDEM_LUA_DIR', str(ROOT / 'lua')))
EVAL_QUEUE = 'idem-evals'
