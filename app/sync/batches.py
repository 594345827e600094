"""The batch path for feed sinks (Carslink, Auterio): many cars per request.

A car change at a feed destination is not a job of its own. ``mark`` adds the car to the
destination's pending set with a new generation number and, when no batch is scheduled,
opens a window (the connector's ``batch_window``, 30 s by default, or the destination's
``batch_window`` option). At its end one ``send_batch`` job sends every car gathered, in
requests of at most the connector's ``batch_cap``. The window opens at the first change and
is never extended, so a car waits at most one window (plus the send) however busy the
dealer's stock is.

``send_batch`` snapshots the pending set and, after each request, removes a car only if its
generation is unchanged: a car changed while its batch was in flight stays pending and goes
out in the next batch with its newest data. Per-car outcomes land on ``SyncState``:

========  ==============================================================================
accepted  synced (deleted, for a removal)
skipped   skipped, with the remote's reason; the car waits until it changes
failed    retrying: it stays pending and the job raises, so RQ retries it with backoff
========  ==============================================================================

A whole-stock feed (``send_full``, Carslink's ``full_replace``) first passes the guard in
``feed_status``: one that would be empty, or remove most of the cars listed at the
destination, is held until a human confirms it. Every request that went through leaves a
run record (``SyncRun``, kind ``feed:partial`` / ``feed:full``, with the remote's id and counts).

Whole-request failures follow the listing path: ``RetryAt`` (429, spent budget, open breaker)
puts the job back for that time without spending an attempt; ``RetryLater`` (5xx, timeout)
leaves the unsent remainder pending and raises; ``Reauthenticate`` pauses the destination,
whose pending cars wait for ``resume``; ``FixInput`` marks that request's cars as errors.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from app.connectors.base import ConnectorKind, RetryLater
from app.extensions import db, redis_store
from app.jobs import enqueue
from app.jobs.queues import PUSH
from app.listings.models import Car
from app.sites.models import Destination
from app.sync import destinations as dest_service
from app.sync.batch_run import BatchRun
from app.sync.batch_window import (  # re-exported: the engine and tests call them from here
    SCHEDULE_SLACK,
    mark,
    pending,
    pending_key,
    put_back,
    schedule,
    scheduled_key,
    send_now,
    window_of,
)
from app.sync.breaker import Breaker

__all__ = [
    "SCHEDULE_SLACK", "enqueue_full_feeds", "mark", "mark_after_photos", "pending", "pending_key", "schedule",
    "scheduled_key", "send_batch", "send_full", "send_now", "window_of",
]


def mark_after_photos(destination_id: int, car_id: int, now: bool) -> dict[str, Any]:
    """``mark``, run as a job once the car's new photos are in (or failed for good)."""
    dest = db.session.get(Destination, destination_id)
    if dest is None or not dest.enabled:
        return {"outcome": "skip"}
    mark(dest, car_id, now=now)
    return {"outcome": "marked"}


# --------------------------------------------------------------------------- the jobs


def send_batch(destination_id: int, queue_name: str = PUSH) -> dict[str, Any]:
    dest = db.session.get(Destination, destination_id)
    if dest is None or not dest.enabled or not dest.site.active:
        return {"outcome": "skip"}
    # From here on, a change opens the next window: it cannot be in this snapshot for sure.
    redis_store.client.delete(scheduled_key(destination_id))
    if dest.paused:
        return {"outcome": "parked", "reason": dest.paused_reason}  # resume() sends them
    breaker = Breaker(redis_store.client, dest.id)
    wait = breaker.wait_until()
    if wait:
        put_back(wait, dest.id, queue_name)
        return {"outcome": "breaker_open", "until": wait}
    snapshot = pending(dest.id)
    if not snapshot:
        return {"outcome": "empty"}
    # A slice of ``batch_cap`` cars at a time, each loaded, sent, recorded and then let go, so
    # the job's memory follows the cap, not the dealer's stock (5,000 cars at once: 170 MB).
    cap = max(1, dest_service.connector_class(dest.marketplace).batch_cap)
    ids = sorted(snapshot)
    totals = dict.fromkeys(("accepted", "skipped", "failed", "requests"), 0)
    for start in range(0, len(ids), cap):
        part = {car_id: snapshot[car_id] for car_id in ids[start:start + cap]}
        result = BatchRun(dest, part, breaker, queue_name).run()
        for key in totals:
            totals[key] += result.get(key, 0)
        if result["outcome"] != "sent":  # rescheduled or paused: the rest stays pending
            return {**result, **totals}
        db.session.expunge_all()
        dest = db.session.get(Destination, destination_id)
    if totals["failed"]:
        raise RetryLater(f"{dest.marketplace}: {totals['failed']} car(s) of the batch failed; retrying those")
    return {"outcome": "sent", **totals}


def send_full(destination_id: int) -> dict[str, Any]:
    """The dealer's whole stock in one request (Carslink's ``full_replace``): the remote
    removes whatever is not in it, and re-dates what is (Carslink expires listings not
    refreshed in 24 hours). Pending changes of the cars it carries are acknowledged."""
    dest = db.session.get(Destination, destination_id)
    if dest is None or not dest.enabled or not dest.site.active:
        return {"outcome": "skip"}
    if not dest_service.connector_class(dest.marketplace).supports_full:
        return {"outcome": "skip", "reason": "the destination takes no whole-stock feed"}
    if dest.paused:
        return {"outcome": "parked", "reason": dest.paused_reason}
    breaker = Breaker(redis_store.client, dest.id)
    if wait := breaker.wait_until():
        enqueue.reschedule_current(wait, enqueue.SEND_FULL, destination_id, queue_name="low",
                                   rate_limit=enqueue.batch_limit(destination_id))
        return {"outcome": "breaker_open", "until": wait}
    waiting = pending(dest.id)
    car_ids = db.session.scalars(select(Car.id).where(Car.site_id == dest.site_id)).all()
    # Generation 0 is never a pending car's (they start at 1): acknowledging it does nothing.
    return BatchRun(dest, {car_id: waiting.get(car_id, 0) for car_id in car_ids}, breaker, "low", full=True).run()


def enqueue_full_feeds() -> int:
    """A whole-stock job for every enabled feed destination that takes one."""
    count = 0
    for dest in db.session.scalars(select(Destination).where(Destination.enabled)):
        cls = dest_service.connector_class(dest.marketplace)
        if cls.kind is ConnectorKind.FEED and cls.supports_full and dest.site.active:
            enqueue.send_full(dest.id, site_id=dest.site_id)
            count += 1
    return count
