"""The ``scheduler`` process: RQ's scheduler of delayed jobs, the abandoned-job sweep, RQ's
CronScheduler for periodic jobs, and the debounce flusher.

Workers run without RQ's ``with_scheduler``: that scheduler dies on a Redis connection error
and RQ restarts it only in its 10-minute maintenance pass, so jobs waiting for a rate window
or a backoff sat in the scheduled registries for minutes after Redis came back. Here every
loop survives Redis errors and resumes on its next tick (at most RECOVERY_PAUSE later).

The flusher needs sub-second resolution (a burst should sync ~DEBOUNCE_SECONDS after its last
event, not up to a minute later), which a cron schedule cannot give, so it runs as a thread.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable
from typing import Any

from flask import Flask
from redis import Redis, RedisError

log = logging.getLogger("forecourt.scheduler")
FLUSH_INTERVAL = 0.2
DELAYED_INTERVAL = 1.0  # how often due delayed jobs move onto their queues
SWEEP_INTERVAL = 5.0  # how often started registries are checked for lapsed heartbeats
RECOVERY_PAUSE = 1.0  # after a Redis error, before the next try


def flush_due(app: Flask) -> int:
    """Enqueue one sync job for each car whose debounce window has closed."""
    from app.jobs import enqueue
    from app.sync import engine

    with app.app_context():
        debouncer = engine.debouncer()
        taken = debouncer.take_due()
        for site_id, car_ref in taken:
            enqueue.car_sync(site_id, car_ref)
        return len(taken)


def _loop(name: str, tick: Callable[[], object], interval: float, stop: threading.Event) -> None:
    while not stop.is_set():
        try:
            tick()
        except RedisError as exc:  # Redis restarting: keep trying, the work is safe in Redis
            log.warning("%s: Redis unavailable (%s); retrying", name, exc)
            stop.wait(RECOVERY_PAUSE)
        except Exception:
            log.exception("%s failed; retrying", name)
            stop.wait(RECOVERY_PAUSE)
        stop.wait(interval)


class DelayedJobs:
    """RQ's RQScheduler driven in this process, one tick at a time.

    RQ retries the locks only every two minutes once it holds none; here they are retried
    every tick, so this process takes over as soon as a previous owner's lock lapses (61 s
    after it died) and re-takes its own lock the moment Redis is back."""

    def __init__(self, connection: Redis, queues: Iterable[str]) -> None:
        from rq.scheduler import RQScheduler

        self.scheduler = RQScheduler(list(queues), connection=connection, interval=int(DELAYED_INTERVAL),
                                     logging_level=logging.WARNING)
        self._born = False

    def tick(self) -> int:
        scheduler = self.scheduler
        if not self._born:
            scheduler.register_birth()
            self._born = True
        if scheduler.acquired_locks != scheduler._queue_names:
            scheduler.acquire_locks()
        if not scheduler.acquired_locks:
            return 0
        scheduler.heartbeat()
        scheduler.enqueue_scheduled_jobs()
        return len(scheduler.acquired_locks)

    def close(self) -> None:
        try:
            self.scheduler.release_locks()
            self.scheduler.register_death()
        except RedisError:
            pass  # the locks lapse on their own


def sweep_abandoned(connection: Redis, queues: Iterable[str], now: float | None = None) -> None:
    """Requeue (or fail, with no retries left) jobs whose worker's heartbeat lapsed, then free
    the one-at-a-time slots they held.

    A requeued job's own slot still names it, so when its retry comes due RQ parks it behind
    itself; RQ frees such slots only in its 10-minute maintenance pass. Freeing them here, in
    the same 5 s sweep, is what lets a car whose worker died converge in seconds."""
    from rq import Queue
    from rq.rate_limit import RateLimitRegistry
    from rq.registry import StartedJobRegistry

    for name in queues:
        StartedJobRegistry(queue=Queue(name, connection=connection)).cleanup(timestamp=now)
        requeue_stranded(Queue(name, connection=connection))
    for registry in RateLimitRegistry.all(connection):
        registry.cleanup()
        for job_id in registry.get_allowed_job_ids():
            requeue_lost(connection, job_id)


def requeue_lost(connection: Redis, job_id: str) -> bool:
    """A job holding a one-at-a-time slot as "queued" while on no queue: Redis died between
    saving it and pushing it. RQ keeps such a slot forever (queued jobs hold theirs), so the
    car's later jobs would wait behind it for good; the job goes back on its queue."""
    from rq import Queue
    from rq.exceptions import NoSuchJobError
    from rq.intermediate_queue import IntermediateQueue
    from rq.job import Job, JobStatus

    try:
        job = Job.fetch(job_id, connection=connection)
    except NoSuchJobError:
        return False
    if job.get_status() != JobStatus.QUEUED:
        return False
    queue = Queue(job.origin, connection=connection)
    intermediate = IntermediateQueue.get_intermediate_queue_key(queue.key)
    if connection.lpos(queue.key, job_id) is not None or connection.lpos(intermediate, job_id) is not None:
        return False
    seen = f"fc:lost:{job_id}"
    if connection.set(seen, 1, nx=True, ex=3600) or connection.ttl(seen) > 3600 - STRANDED_AFTER:
        return False  # first sighting, or too recent: it may be on its way onto the queue
    connection.delete(seen)
    queue.push_job_id(job_id)
    log.warning("requeued a job that held its slot on no queue", extra={"job": job_id})
    return True


STRANDED_AFTER = 10.0  # seconds a dequeued job may take to show up as started


def requeue_stranded(queue) -> int:
    """Put back jobs a worker took off the queue but never started (Redis or the worker died
    in between): RQ leaves them in the queue's intermediate list and acts only in its
    10-minute maintenance pass, as a failure. They never ran, so they go back on the queue."""
    from rq.intermediate_queue import IntermediateQueue

    intermediate = IntermediateQueue(queue.key, connection=queue.connection)
    requeued = 0
    for job_id in intermediate.get_job_ids():
        if job_id in queue.started_job_registry:
            continue
        job = queue.fetch_job(job_id)
        if job is None:
            intermediate.remove(job_id)
            continue
        seen = f"fc:stranded:{job_id}"
        if queue.connection.set(seen, 1, nx=True, ex=3600):
            continue  # first sighting: a worker may be registering it this very moment
        ttl = queue.connection.ttl(seen)
        if ttl > 3600 - STRANDED_AFTER:
            continue
        intermediate.remove(job_id)
        queue.connection.delete(seen)
        # Its id goes back on the queue as it was: enqueue_job would make a job that already
        # holds its one-at-a-time slot wait behind itself.
        queue.push_job_id(job_id)
        requeued += 1
        log.warning("requeued a job stranded between dequeue and start", extra={"job": job_id})
    return requeued


def start_threads(app: Flask, connection: Redis, stop: threading.Event) -> tuple[list[threading.Thread], DelayedJobs]:
    from app.jobs.queues import QUEUES

    delayed = DelayedJobs(connection, QUEUES)
    loops = [
        ("debounce flush", lambda: flush_due(app), FLUSH_INTERVAL),
        ("delayed jobs", delayed.tick, DELAYED_INTERVAL),
        ("abandoned-job sweep", lambda: sweep_abandoned(connection, QUEUES), SWEEP_INTERVAL),
    ]
    threads = [threading.Thread(target=_loop, args=(name, tick, interval, stop), name=name, daemon=True)
               for name, tick, interval in loops]
    for thread in threads:
        thread.start()
    return threads, delayed


def run(app: Flask, register_periodic_jobs: Callable[[Any, Any], None]) -> int:
    """Run the scheduler; ``register_periodic_jobs(cron, settings)`` comes from ``workers``,
    which owns the job functions RQ's cron needs as callables."""
    from rq.cron import CronScheduler

    from app.extensions import redis_store

    settings = app.config["FORECOURT"]
    with app.app_context():
        connection = redis_store.client
    stop = threading.Event()
    threads, delayed = start_threads(app, connection, stop)
    cron = CronScheduler(connection=connection, logging_level=settings.log_level)
    register_periodic_jobs(cron, settings)
    log.info("scheduler started")
    try:
        while True:
            try:
                cron.start()  # returns on SIGTERM/SIGINT
                break
            except (RedisError, OSError) as exc:
                log.warning("cron scheduler lost Redis (%s); restarting", exc)
                time.sleep(RECOVERY_PAUSE)
    finally:
        stop.set()
        for thread in threads:
            thread.join(timeout=2)
        delayed.close()
    return 0
