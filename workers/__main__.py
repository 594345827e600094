"""``python -m workers worker`` and ``python -m workers scheduler`` (the Procfile's processes)."""

from __future__ import annotations

import argparse
import logging
import sys
import time

from redis import RedisError

from workers.context import get_app

log = logging.getLogger("forecourt.workers")
RECOVERY_PAUSE = 1.0


def run_worker(queues: list[str], burst: bool, fork: bool = False) -> int:
    from rq import Worker

    from app.extensions import redis_store
    from app.jobs.queues import QUEUES
    from app.sync.worker import HeartbeatWorker

    app = get_app()
    _warm_imports()
    with app.app_context():
        connection = redis_store.client
    # Jobs here are short and I/O-bound, and forking a work horse per job cost more than the
    # job itself (warm imports, pooled database and HTTP connections are lost with each
    # horse). A job still runs under RQ's timeout, and a worker that dies mid-job (kill -9,
    # OOM) has its job requeued once its heartbeat lapses (app.sync.worker). --fork restores
    # a horse per job (RQ's own monitoring heartbeat, 90 s).
    worker_class = Worker if fork else HeartbeatWorker
    while True:
        try:
            worker = worker_class(queues or list(QUEUES), connection=connection)  # asks Redis for our IP
            # No with_scheduler: the scheduler process moves delayed jobs (backoff, rate-limit
            # waits) onto their queues and survives Redis outages; RQ's in-worker one does not.
            worker.work(with_scheduler=False, burst=burst, logging_level=app.config["FORECOURT"].log_level)
        except (RedisError, OSError) as exc:
            log.warning("worker lost Redis (%s); starting again", exc)
        else:
            if burst or worker._stop_requested:
                return 0
            # RQ's loop also returns, rather than raises, on some Redis errors.
            log.warning("worker loop ended without a stop request; starting again")
        # A job it was running is requeued once its heartbeat lapses (app.sync.worker).
        time.sleep(RECOVERY_PAUSE)


def _warm_imports() -> None:
    """Import what jobs use up front (with --fork, every work horse inherits it instead of
    importing it again: about a third of a sync job's time otherwise)."""
    import app.connectors  # noqa: F401
    import app.listings.dms  # noqa: F401
    import app.listings.formats  # noqa: F401
    import app.listings.presets  # noqa: F401
    import app.listings.service  # noqa: F401
    import app.listings.status  # noqa: F401
    import app.media.service  # noqa: F401
    import app.sources.pull  # noqa: F401
    import app.sync.engine  # noqa: F401
    import app.sync.reconcile  # noqa: F401
    import workers.jobs  # noqa: F401
    import workers.media_jobs  # noqa: F401


def register_periodic_jobs(cron, settings) -> None:
    from workers import jobs, lead_jobs

    cron.register(jobs.reconcile_all, queue_name="low", cron=settings.reconcile_cron, name="reconcile-all")
    cron.register(jobs.housekeeping, queue_name="low", interval=30, name="housekeeping")
    # Whole-stock feeds are queued by housekeeping: RQ's cron reads times in the host's zone,
    # and Carslink's noon and midnight are Europe/London's (FULL_FEED_TIMEZONE).
    cron.register(lead_jobs.purge_leads, queue_name="low", cron=settings.lead_purge_cron, name="purge-leads")
    cron.register(jobs.pull_due_sources, queue_name="low", interval=60, name="pull-due-sources")
    cron.register(jobs.purge_history, queue_name="low", cron=settings.history_purge_cron, name="purge-history")


def run_scheduler() -> int:
    from app.sync.scheduler import run

    return run(get_app(), register_periodic_jobs)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m workers")
    sub = parser.add_subparsers(dest="command", required=True)
    worker = sub.add_parser("worker", help="run an RQ worker")
    worker.add_argument("queues", nargs="*", help="queues in priority order (default: all)")
    worker.add_argument("--burst", action="store_true", help="exit when the queues are empty")
    worker.add_argument("--fork", action="store_true", help="run each job in a forked work horse")
    sub.add_parser("scheduler", help="run delayed and periodic jobs and the debounce flusher")
    args = parser.parse_args(argv)
    if args.command == "worker":
        return run_worker(args.queues, args.burst, args.fork)
    return run_scheduler()


if __name__ == "__main__":
    sys.exit(main())
