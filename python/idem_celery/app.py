"""The Celery app: Redis as broker and result backend, timings shortened for the stage.

Started by the server as `python3 -m celery -A idem_celery.app worker -P prefork ...`,
one `celery worker` per lane, each supervised (restarted when it dies).
"""
import json
import os

from celery import Celery, signals

from . import settings

# The workers' app, and the driver's protocol-1 client (driver.py), are configured alike.
CONFIG = dict(
    task_serializer='json',
    # The result-unstorable fault sends its link as pickle, like a project whose tasks are pickle.
    accept_content=['json', 'pickle'],
    result_serializer='json',
    task_default_queue=settings.EVAL_QUEUE,
    # One message at a time per worker: what a worker holds is what it runs.
    worker_prefetch_multiplier=1,
    broker_transport_options={'visibility_timeout': settings.VISIBILITY_TIMEOUT},
    worker_deduplicate_successful_tasks=settings.DEDUPLICATE,
    result_expires=600,
    worker_hijack_root_logger=False,
    broker_connection_retry_on_startup=True,
)

app = Celery('idem', broker=settings.BROKER_URL, backend=settings.BROKER_URL, include=['idem_celery.tasks'])
app.conf.update(CONFIG)


@signals.worker_ready.connect
def announce_ready(sender=None, **_):
    # On the real stdout (Celery redirects sys.stdout to its log): the supervisor waits for this line.
    os.write(1, (json.dumps({'ready': os.getpid(), 'deduplicate': settings.DEDUPLICATE}) + '\n').encode())


@signals.worker_init.connect
def follow_the_server(**_):
    """A worker whose server is gone (even SIGKILLed) takes its whole process group down with it."""
    parent = int(os.environ.get('IDEM_PARENT_PID') or 0)
    if not parent:
        return
    import signal
    import threading
    import time

    def watch():
        while os.getppid() == parent:
            time.sleep(1)
        os.killpg(os.getpgid(0), signal.SIGKILL)

    threading.Thread(target=watch, name='follow-the-server', daemon=True).start()
