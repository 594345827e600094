"""The sync engine: from a car's pending events to the marketplaces.

Two kinds of job, both idempotent and both serialised per car by RQ's own
``RateLimit(key, concurrency=1)`` (a car's later job waits until its running one ends):

* ``sync_car(site_id, car_ref)`` applies the car's pending events to the database,
  commits, acknowledges exactly those events in Redis, then enqueues one push per
  destination (only after the commit, so a push always sees the state it was queued for).
* ``push(car_id, destination_id)`` makes the marketplace match the car. It reads the
  latest state when it runs, so pushes queued out of order still converge on the last
  write. Outcomes are decided by the connector's exceptions:

  RetryAt (429, spent budget, open breaker)  -> re-enqueued for that time, not an attempt
  RetryLater (5xx, timeout)                  -> raised: RQ retries on RETRY_BACKOFF_SECONDS
  FixInput (422, missing fields)             -> kept on the car's status, no retry
  Reauthenticate (401/403)                   -> destination paused, car parked until resume
"""

from __future__ import annotations

import logging
import time
from typing import Any

from flask import current_app
from rq import get_current_job
from rq.job import Dependency
from sqlalchemy import select

from app.connectors.base import (
    ConnectorError,
    ConnectorKind,
    FixInput,
    Reauthenticate,
    RemoteState,
    RetryAt,
    RetryLater,
    SyncOutcome,
)
from app.connectors.kinds import ListingSink
from app.extensions import db, redis_store
from app.jobs import enqueue
from app.jobs.queues import DEFAULT, HIGH, PUSH
from app.listings import apply_errors, history
from app.listings.models import Car, SyncAttempt, SyncState
from app.listings.statuses import ListingStatus, SyncStatus
from app.listings.vehicle import DELETED, Vehicle
from app.media import service as media
from app.ops.logging import request_id_var
from app.sites.models import Destination, Site
from app.sync import batches
from app.sync import destinations as dest_service
from app.sync.breaker import Breaker
from app.sync.debounce import Debouncer, DebounceWindow
from app.sync.transport import clamp_reset
from app.sync.vehicles import new_state, use_media, vehicle_of
from app.timeutil import utcnow

log = logging.getLogger("forecourt.sync")


def debouncer() -> Debouncer:
    """One per app: its Lua scripts are registered once, not on every webhook."""
    cached = current_app.extensions.get("forecourt_debouncer")
    if cached is None or cached.client is not redis_store.client:
        settings = current_app.config["FORECOURT"]
        cached = Debouncer(
            redis_store.client, DebounceWindow(settings.debounce_seconds, settings.debounce_max_wait_seconds)
        )
        current_app.extensions["forecourt_debouncer"] = cached
    return cached


# --------------------------------------------------------------------------- sync_car


def sync_car(site_id: str, car_ref: str, run_id: int | None = None, queue_name: str = DEFAULT) -> dict[str, Any]:
    job = get_current_job()
    if job is not None:
        enqueue.release_waiting(enqueue.waiting_sync_key(site_id, car_ref), job.id)
    site = db.session.get(Site, site_id)
    if site is None:
        return {"outcome": "skip", "reason": f"no site {site_id!r}"}
    from app.listings.service import apply_events

    debounce = debouncer()
    events, marker = debounce.read_with_marker(site_id, car_ref)
    if events and events[-1].get("request_id") and not request_id_var.get():
        # The flusher enqueued this job outside any request: carry the webhook's id onward.
        request_id_var.set(events[-1]["request_id"])
    try:
        result = apply_events(site, car_ref, events)
    except apply_errors.EventNotApplied as exc:
        # Not acknowledged: the events stay queued, RQ retries this job with the backoff, and
        # the car shows the error until an attempt applies them.
        db.session.rollback()
        apply_errors.record(site_id, car_ref, exc.message)
        raise
    db.session.commit()
    # Only after the commit: a crash before this line leaves the events queued for the rerun.
    debounce.ack(site_id, car_ref, len(events), marker)
    if events:
        apply_errors.clear(site_id, car_ref)
    car = result.car
    if car is None or car.id is None:
        return {"outcome": "skip", "reason": "; ".join(result.ignored) or "unknown car"}
    # Photos first, each its own retryable job on the images queue; the pushes wait for them
    # (a failed photo does not block the push: it is reported and left out).
    photo_jobs = [] if car.status in (None, DELETED) else media.enqueue_missing(car.vehicle.get("images") or [])
    depends_on = Dependency(jobs=photo_jobs, allow_failure=True) if photo_jobs else None
    push_queue = HIGH if queue_name == HIGH else PUSH
    pushed = [
        queued for dest in site.destinations if dest.enabled
        if (queued := deliver(car.id, dest, queue_name=push_queue, run_id=run_id, depends_on=depends_on))
    ]
    return {"outcome": "applied", "events": len(events), "applied": result.applied,
            "stale": result.stale, "ignored": result.ignored, "pushes": pushed,
            "photos": [job.id for job in photo_jobs]}


def deliver(car_id: int, dest: Destination, *, queue_name: str = PUSH, run_id: int | None = None,
            depends_on: Dependency | None = None) -> str | None:
    """Queue one car for one destination the way its kind takes cars: a push job of its own
    for a listing API, a place in the next batch for a feed. Lead and source destinations
    take no cars. Returns the push's job id, "waiting:…" when a push of the car already
    waits, or "batch:<destination>"."""
    kind = dest_service.connector_class(dest.marketplace).kind
    if kind is ConnectorKind.FEED:
        if depends_on is not None:  # new photos: the car joins a batch once they are in
            return enqueue.mark_feed(dest.id, car_id, now=queue_name == HIGH, depends_on=depends_on).id
        batches.mark(dest, car_id, now=queue_name == HIGH)  # Sync Now: the dealer is waiting
        return f"batch:{dest.id}"
    if kind is ConnectorKind.LISTING:
        job = enqueue.push(car_id, dest.id, queue_name=queue_name, run_id=run_id, depends_on=depends_on)
        return job.id if job else f"waiting:{car_id}:{dest.id}"  # the push already waiting sends it
    return None


# --------------------------------------------------------------------------- push


def remote_state(state: SyncState) -> RemoteState | None:
    if not (state.remote_id or state.external_ref):
        return None
    return RemoteState(state.remote_id, state.external_ref, state.fingerprint, state.payload)


def _state_for_upsert(connector: ListingSink, vehicle: Vehicle, state: SyncState) -> RemoteState | None:
    """What the connector should assume exists remotely before this upsert.

    Before a first create the reference is committed with status "creating": if the POST
    times out after the marketplace created the listing, or the worker dies before recording
    it, a later delete or unpublish still finds the listing by that reference, and a retried
    POST meets it as a 409 and becomes a PATCH."""
    if state.remote_id:
        return remote_state(state)
    try:
        ref = connector.external_ref(vehicle)
    except ConnectorError:
        return remote_state(state)  # the upsert raises the same error, with its fields
    if state.external_ref and ref and state.external_ref != ref:
        return remote_state(state)  # the reference changed: PATCH the old one to the new one
    if ref and (state.external_ref != ref or state.status != SyncStatus.CREATING):
        state.external_ref, state.status = ref, SyncStatus.CREATING
        db.session.commit()
    return None


def get_state(car: Car, dest: Destination) -> SyncState:
    state = db.session.scalar(
        select(SyncState).where(SyncState.car_id == car.id, SyncState.destination_id == dest.id)
    )
    return state if state is not None else new_state(car, dest)


def push(car_id: int, destination_id: int, run_id: int | None = None, queue_name: str = PUSH) -> dict[str, Any]:
    job = get_current_job()
    if job is not None:
        enqueue.release_waiting(enqueue.waiting_push_key(car_id, destination_id), job.id)
    car = db.session.get(Car, car_id)
    dest = db.session.get(Destination, destination_id)
    if car is None or dest is None or not dest.enabled or not dest.site.active:
        return {"outcome": "skip"}
    if dest.paused:
        dest_service.park(dest.id, car.id)
        return {"outcome": "parked", "reason": dest.paused_reason}
    breaker = Breaker(redis_store.client, dest.id)
    wait = breaker.wait_until()
    if wait:
        enqueue.reschedule_push(wait, car_id, destination_id, run_id, queue_name)
        return {"outcome": "breaker_open", "until": wait}
    return _push(car, dest, breaker, run_id, queue_name)


def _push(car: Car, dest: Destination, breaker: Breaker, run_id: int | None, queue_name: str) -> dict:
    state = get_state(car, dest)
    db.session.flush()
    vehicle = vehicle_of(car, dest)
    photo_problems = use_media(vehicle)
    try:
        connector: ListingSink = dest_service.build_connector(dest)
        known = remote_state(state)
        if car.status == DELETED:
            outcome = SyncOutcome(operation="noop") if known is None else connector.delete(vehicle, known)
        elif car.status is None or (car.status == ListingStatus.INACTIVE and known is None):
            # Nothing to hide if it was never listed here (or was deleted): don't create it hidden.
            outcome = SyncOutcome(operation="skip")
        else:
            connector.check_images(vehicle)
            outcome = connector.upsert(vehicle, _state_for_upsert(connector, vehicle, state),
                                       previous_payload=state.payload)
    except RetryAt as exc:
        _log_calls(car, dest, run_id, exc.calls, "rate_limited", exc)
        state.status = SyncStatus.WAITING
        db.session.commit()
        now = time.time()
        at = clamp_reset(exc.at, now)
        if not enqueue.reschedule_push(at, car.id, dest.id, run_id, queue_name):
            return {"outcome": "superseded", "at": at}  # the push already waiting sends it
        return {"outcome": "rescheduled", "at": at}
    except RetryLater as exc:
        job = get_current_job()
        final = not (job and job.retries_left)
        _fail(car, dest, state, run_id, exc, SyncStatus.FAILED if final else SyncStatus.RETRYING)
        opened = breaker.failure()
        if opened:
            log.warning("circuit opened", extra={"destination": dest.slug, "until": opened})
        db.session.commit()
        if not final and job is not None and not enqueue.claim_waiting(enqueue.waiting_push_key(car.id, dest.id),
                                                                       job.id):
            # A newer push already waits and will send the latest state: this retry would be a twin.
            return {"outcome": "superseded", "error": exc.message}
        raise
    except Reauthenticate as exc:
        _fail(car, dest, state, run_id, exc, SyncStatus.PAUSED)
        dest_service.pause(dest, exc.message)
        dest_service.park(dest.id, car.id)
        db.session.commit()
        return {"outcome": "paused", "reason": exc.message}
    except FixInput as exc:
        _fail(car, dest, state, run_id, exc, SyncStatus.ERROR)
        db.session.commit()
        return {"outcome": "fix_input", "fields": exc.fields}
    except ConnectorError as exc:
        _fail(car, dest, state, run_id, exc, SyncStatus.ERROR)
        db.session.commit()
        return {"outcome": "error", "message": exc.message}
    breaker.success()
    outcome.warnings = [*photo_problems, *(outcome.warnings or [])]
    if outcome.operation in ("create", "update", "delete"):
        history.record_payload(car.id, dest, operation=outcome.operation, outcome="done",
                               payload=outcome.payload, http_status=outcome.http_status)
    _succeed(car, dest, state, outcome)
    _log_calls(car, dest, run_id, outcome.calls, "done", None, operation=outcome.operation)
    db.session.commit()
    return {"outcome": outcome.operation, "remoteId": outcome.remote_id, "warnings": outcome.warnings}


def _succeed(car: Car, dest: Destination, state: SyncState, outcome: SyncOutcome) -> None:
    now = utcnow()
    state.attempts = 0
    state.last_attempt_at = now
    state.last_error = None
    state.warnings = list(outcome.warnings or [])
    if outcome.operation == "skip":
        state.status = SyncStatus.NOT_LISTED
        return
    if outcome.operation == "noop":
        state.status = (SyncStatus.DELETED if car.status == DELETED
                        else SyncStatus.SYNCED if state.remote_id else SyncStatus.SKIPPED)
        return
    state.last_synced_at = now
    if outcome.operation == "delete":
        state.status = SyncStatus.DELETED
        state.remote_status = None
        state.remote_id = None
        state.external_ref = None
        state.fingerprint = None
        state.payload = None
        return
    state.status = SyncStatus.SYNCED
    state.remote_status = car.status
    state.remote_id = outcome.remote_id or state.remote_id
    state.external_ref = outcome.external_ref or state.external_ref
    state.fingerprint = outcome.fingerprint
    state.payload = outcome.payload


def _fail(car: Car, dest: Destination, state: SyncState, run_id: int | None, exc: ConnectorError,
          status: SyncStatus) -> None:
    history.record_payload(car.id, dest, operation=_last_operation(exc.calls), outcome=status,
                           payload=None, http_status=exc.status, error=exc.message)
    state.status = status
    state.attempts = (state.attempts or 0) + 1
    state.last_attempt_at = utcnow()
    state.last_error = {**exc.to_dict(), "at": utcnow().isoformat()}
    outcome = {"retrying": "retry", "failed": "failed", "paused": "reauth", "error": "error"}[status]
    if isinstance(exc, FixInput):
        outcome = "fix_input"
    _log_calls(car, dest, run_id, exc.calls, outcome, exc)
    log.warning("push failed", extra={"car": f"{car.site_id}/{car.car_ref}", "destination": dest.slug,
                                      "status": status, "error": exc.message})


def _last_operation(calls: list | None) -> str:
    return calls[-1].operation if calls else "push"


def _log_calls(car, dest, run_id, calls, outcome: str, exc: ConnectorError | None, operation: str | None = None):
    job = get_current_job()
    if not calls:
        _attempt(car, dest, run_id, operation or "push", outcome, error=exc.message if exc else None,
                 http_status=exc.status if exc else None, request_id=exc.request_id if exc else None)
        return
    for call in calls:
        db.session.add(SyncAttempt(
            car_id=car.id, destination_id=dest.id, run_id=run_id, job_id=job.id if job else None,
            operation=call.operation, method=call.method, path=call.path[:500],
            http_status=call.status, duration_ms=call.duration_ms,
            outcome=outcome if (call is calls[-1]) else ("done" if (call.status or 500) < 400 else "handled"),
            request_id=call.request_id, error=(exc.message if exc and call is calls[-1] else None),
        ))


def _attempt(car, dest, run_id, operation, outcome, *, error=None, http_status=None, request_id=None):
    job = get_current_job()
    db.session.add(SyncAttempt(
        car_id=car.id, destination_id=dest.id, run_id=run_id, job_id=job.id if job else None,
        operation=operation, outcome=outcome, error=error,
        http_status=http_status, request_id=request_id,
    ))


def run_counts(run_id: int) -> dict[str, int]:
    """created / updated / deleted / skipped / failed for one run, from its attempt log."""
    counts = {"created": 0, "updated": 0, "deleted": 0, "skipped": 0, "failed": 0}
    rows = db.session.execute(
        select(SyncAttempt.operation, SyncAttempt.outcome, SyncAttempt.method).where(SyncAttempt.run_id == run_id)
    ).all()
    for operation, outcome, _method in rows:
        if outcome in ("failed", "fix_input", "error", "reauth"):
            counts["failed"] += 1
        elif outcome == "done" and operation in ("create", "update", "delete"):
            counts[{"create": "created", "update": "updated", "delete": "deleted"}[operation]] += 1
        elif outcome == "done" and operation in ("noop", "skip"):
            counts["skipped"] += 1
    return counts

