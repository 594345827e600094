"""The ``scheduler`` process: RQ's CronScheduler for periodic jobs, plus the debounce flusher.

The flusher needs sub-second resolution (a burst should sync ~DEBOUNCE_SECONDS after its last
event, not up to a minute later), which a cron schedule cannot give, so it runs as a thread here.
"""

from __future__ import annotations

import logging
import threading

from flask import Flask

log = logging.getLogger("forecourt.scheduler")
FLUSH_INTERVAL = 0.2


def flush_due(app: Flask) -> int:
    """Enqueue one sync job for each car whose debounce window has closed."""
    from app.sync import engine

    with app.app_context():
        debouncer = engine.debouncer()
        taken = debouncer.take_due()
        for site_id, car_ref in taken:
            engine.enqueue_car_sync(site_id, car_ref)
        return len(taken)


def _flusher(app: Flask, stop: threading.Event) -> None:
    while not stop.is_set():
        try:
            flush_due(app)
        except Exception:  # Redis restarting, say: keep trying, the events are safe in Redis
            log.exception("debounce flush failed; retrying")
            stop.wait(1.0)
        stop.wait(FLUSH_INTERVAL)


def register_periodic_jobs(cron, settings) -> None:
    from workers import jobs

    cron.register(jobs.reconcile_all, queue_name="low", cron=settings.reconcile_cron, name="reconcile-all")
    cron.register(jobs.housekeeping, queue_name="low", interval=30, name="housekeeping")


def run(app: Flask) -> int:
    from rq.cron import CronScheduler

    from app.extensions import redis_store

    settings = app.config["FORECOURT"]
    with app.app_context():
        connection = redis_store.client
    stop = threading.Event()
    thread = threading.Thread(target=_flusher, args=(app, stop), name="debounce-flusher", daemon=True)
    thread.start()
    cron = CronScheduler(connection=connection, logging_level=settings.log_level)
    register_periodic_jobs(cron, settings)
    log.info("scheduler started")
    try:
        cron.start()
    finally:
        stop.set()
        thread.join(timeout=2)
    return 0

