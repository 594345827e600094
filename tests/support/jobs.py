"""Running the real RQ machinery inside a test: flush the debouncer, move due scheduled jobs
onto their queues, and let a real RQ worker (SimpleWorker, in this process) work them."""

from __future__ import annotations

import logging
import time

from flask import Flask
from rq import Queue, SimpleWorker
from rq.registry import ScheduledJobRegistry
from rq.scheduler import RQScheduler

from app.extensions import redis_store
from app.jobs.queues import QUEUES
from app.sync.debounce import DUE
from app.sync.scheduler import flush_due

logging.getLogger("rq.scheduler").setLevel(logging.WARNING)


def _enqueue_due_scheduled(connection) -> None:
    scheduler = RQScheduler(list(QUEUES), connection=connection)
    scheduler.acquire_locks()
    try:
        scheduler.enqueue_scheduled_jobs()
    finally:
        scheduler.release_locks()


def pending(connection) -> dict[str, int]:
    counts = {"due": int(connection.zcard(DUE))}
    for name in QUEUES:
        queue = Queue(name, connection=connection)
        counts[name] = queue.count
        counts[f"{name}:scheduled"] = ScheduledJobRegistry(queue=queue).count
    return counts


def drain(app: Flask, *, timeout: float = 30.0, flush: bool = True, scheduled: bool = True) -> dict[str, int]:
    """Work until nothing is queued, scheduled or waiting in the debouncer (or fail at timeout).
    ``scheduled=False`` stops at jobs scheduled for later (a feed's open batch window)."""
    from workers.context import set_app

    set_app(app)
    connection = redis_store.client
    queues = [Queue(name, connection=connection) for name in QUEUES]
    deadline = time.monotonic() + timeout
    while True:
        if flush:
            flush_due(app)
        _enqueue_due_scheduled(connection)
        SimpleWorker(queues, connection=connection).work(burst=True, logging_level="WARNING")
        left = pending(connection)
        if not scheduled:
            left = {name: n for name, n in left.items() if not name.endswith(":scheduled")}
        if not any(left.values()):
            return left
        if time.monotonic() > deadline:
            raise AssertionError(f"work still pending after {timeout}s: {left}")
        time.sleep(0.05)
