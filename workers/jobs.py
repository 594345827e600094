"""RQ job entry points. Each takes ids or plain dicts, raises on failure, and is idempotent."""

from __future__ import annotations

import logging

from workers.context import job

log = logging.getLogger("forecourt.jobs")


@job
def housekeeping() -> dict[str, int]:
    """Frequent upkeep: requeue jobs of workers that died mid-job (kill -9, OOM, lost host)."""
    from rq.registry import StartedJobRegistry

    from app.extensions import redis_store
    from app.jobs.queues import QUEUES
    from app.webhooks.inbound import drain_spool

    for name in QUEUES:
        StartedJobRegistry(name, connection=redis_store.client).cleanup()
    try:
        drained = drain_spool()
    except Exception:  # Redis flapping: the files stay; paused destinations still get checked
        log.exception("spool drain failed")
        drained = 0
    resumed = _retry_paused_destinations()
    full_feeds = _full_feeds()
    return {"queues": len(QUEUES), "drained": drained, "resumed": resumed, **full_feeds}


def _full_feeds() -> dict[str, int]:
    """Whole-stock feeds due by FULL_FEED_CRON (in FULL_FEED_TIMEZONE), and the overdue alarm."""
    from app.sync import feed_status

    return {"full_feeds_queued": feed_status.enqueue_due(), "full_feeds_overdue": feed_status.check_alarms()}


PAUSE_CHECK_SECONDS = 300


def _retry_paused_destinations() -> int:
    """A paused destination is re-checked every few minutes; good credentials resume it."""
    import time

    from sqlalchemy import select

    from app.extensions import db, redis_store
    from app.sites.models import Destination
    from app.sync.destinations import check_destination, parked_key, resume

    resumed = 0
    for dest in db.session.scalars(select(Destination).where(Destination.enabled)):
        if dest.paused:
            if redis_store.client.set(f"fc:pause-check:{dest.id}", int(time.time()), nx=True, ex=PAUSE_CHECK_SECONDS):
                ok, _ = check_destination(dest)
                resumed += ok
        elif redis_store.client.scard(parked_key(dest.id)):
            resume(dest)  # credentials were fixed some other way (config reload)
            resumed += 1
    return resumed


@job
def reconcile_all() -> dict[str, int]:
    """Daily: enqueue a reconciliation per active site."""
    from sqlalchemy import select

    from app.extensions import db
    from app.jobs import enqueue
    from app.sites.models import Site

    site_ids = db.session.scalars(select(Site.id).where(Site.active)).all()
    for site_id in site_ids:
        enqueue.reconcile(site_id)
    return {"sites": len(site_ids)}


@job
def reconcile_site(site_id: str, adopt: bool = False) -> dict:
    """Compare a site's marketplaces with Forecourt's state; push what is missing or stale."""
    from app.sync.reconcile import reconcile_site as run

    return run(site_id, adopt)


@job
def sync_car(site_id: str, car_ref: str, run_id: int | None = None, queue_name: str = "default") -> dict:
    """Apply a car's pending events, then enqueue a push per destination."""
    from app.sync import engine

    return engine.sync_car(site_id, car_ref, run_id, queue_name)


@job
def push(car_id: int, destination_id: int, run_id: int | None = None, queue_name: str = "push") -> dict:
    """Make one destination match one car (create, patch only what changed, or delete)."""
    from app.sync import engine

    return engine.push(car_id, destination_id, run_id, queue_name)


@job
def send_batch(destination_id: int, queue_name: str = "push") -> dict:
    """Send a feed destination's gathered changes: one request per batch_cap cars."""
    from app.sync import batches

    return batches.send_batch(destination_id, queue_name)


@job
def mark_feed(destination_id: int, car_id: int, now: bool = False) -> dict:
    """Put a car in its feed destination's next batch, after its new photos were fetched."""
    from app.sync import batches

    return batches.mark_after_photos(destination_id, car_id, now)


@job
def send_full(destination_id: int) -> dict:
    """Send a feed destination the dealer's whole stock (it removes what is not in it)."""
    from app.sync import batches

    return batches.send_full(destination_id)


@job
def full_feeds() -> dict[str, int]:
    """On demand: a whole-stock feed to every destination that takes one (the schedule runs
    from housekeeping, which reads FULL_FEED_CRON in FULL_FEED_TIMEZONE)."""
    from app.sync import batches

    return {"destinations": batches.enqueue_full_feeds()}


@job
def full_replace(site_id: str, present_ids: list[str]) -> dict:
    """Count cars missing from a DMS full feed; remove those past their grace."""
    from app.sync.feeds import apply_full_replace

    return apply_full_replace(site_id, present_ids)


@job
def pull_source(destination_id: int, accept_shrink: bool = False) -> dict:
    """Pull an inventory source (Carfluence); raises when a page failed so RQ retries it.
    Idempotent: fingerprints make a repeated pull send nothing twice."""
    from app.sources.pull import pull

    result = pull(destination_id, accept_shrink=accept_shrink)
    if result["outcome"] == "failed":
        raise RuntimeError(f"pull of source {destination_id} failed: {result.get('reason')}")
    return result


@job
def pull_due_sources() -> dict[str, int]:
    """Every minute: queue a pull of each source whose interval (default 15 min) has run out."""
    from app.sources.schedule import enqueue_due

    return {"queued": enqueue_due()}


@job
def purge_history() -> dict[str, int]:
    """Daily: drop car history older than HISTORY_RETENTION_DAYS (latest versions are kept)."""
    from flask import current_app

    from app.listings.history import purge

    return purge(current_app.config["FORECOURT"].history_retention_days)
