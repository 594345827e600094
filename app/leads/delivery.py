"""One lead to one lead destination: used by the intake (inline, with a short timeout, while
the shopper waits) and by the retry job. Exactly one attempt runs at a time per delivery (a
Redis lock), a delivered lead is never sent again, and Roadster's own email-per-dealer key
means a retry after a lost answer meets the customer it made (``duplicate: true``).

Outcomes follow the connector's exceptions like the engine's pushes:

  RetryLater (5xx, timeout)   -> retrying; raised, so the job retries on RETRY_BACKOFF_SECONDS
  RetryAt (429, spent budget) -> waiting; a job is scheduled for that time
  FixInput (400 Missing ...)  -> error with the field, no retry until the lead is re-sent
  Reauthenticate / other      -> failed; raised, so the job ends in the replayable failed registry
"""

from __future__ import annotations

import logging
import time
from typing import Any

from sqlalchemy import select

from app.connectors.errors import ConnectorError, FixInput, RetryAt, RetryLater
from app.connectors.kinds import LeadResult, LeadSink
from app.extensions import db, redis_store
from app.jobs import enqueue
from app.leads.models import Lead, LeadDelivery
from app.listings.models import Car
from app.listings.statuses import SyncStatus
from app.sites.models import Destination
from app.sync import destinations as dest_service
from app.sync.transport import clamp_reset
from app.timeutil import utcnow

log = logging.getLogger("forecourt.leads")
LOCK_SECONDS = 90  # longer than one attempt (connect + read timeouts); freed when it ends
BUSY = "busy"


def lead_document(lead: Lead) -> dict[str, Any]:
    """What a lead sink's ``deliver`` takes: the lead id, the person and the car."""
    person = lead.person or {}
    vehicle: dict[str, Any] = {"vin": lead.vin}
    car = db.session.get(Car, lead.car_id) if lead.car_id else None
    if car is not None:
        data = car.vehicle or {}
        vehicle = {"vin": data.get("vin") or lead.vin, "make": data.get("make"), "model": data.get("model"),
                   "year": data.get("year")}
    return {"id": lead.id, **{k: person.get(k) for k in ("first_name", "last_name", "email", "phone")},
            "vehicle": vehicle}


def _lock_key(delivery_id: int) -> str:
    return f"fc:lead-delivery:{delivery_id}"


def attempt(delivery_id: int, *, timeout: tuple[float, float] | None = None, final: bool = True) -> str:
    """Try once. Returns the outcome (``synced``, ``error``, ``waiting``, ``busy``, ...);
    raises ``RetryLater`` or another ``ConnectorError`` for the caller to retry or record."""
    client = redis_store.client
    if not client.set(_lock_key(delivery_id), 1, nx=True, ex=LOCK_SECONDS):
        return BUSY  # another attempt is in flight; it retries or records on its own
    try:
        return _attempt(delivery_id, timeout, final)
    finally:
        client.delete(_lock_key(delivery_id))


def _attempt(delivery_id: int, timeout: tuple[float, float] | None, final: bool) -> str:
    delivery = db.session.get(LeadDelivery, delivery_id)
    if delivery is None:
        return "gone"  # erased or purged meanwhile
    db.session.refresh(delivery)  # another process may have delivered it since this session read it
    if delivery.status == SyncStatus.SYNCED:
        return SyncStatus.SYNCED
    dest = db.session.get(Destination, delivery.destination_id)
    if dest is None or not dest.enabled:
        return "skip"
    try:
        connector: LeadSink = dest_service.build_connector(dest, timeout=timeout)
        result = connector.deliver(lead_document(delivery.lead))
    except RetryAt as exc:
        _record(delivery, SyncStatus.WAITING, exc)
        db.session.commit()
        enqueue.deliver_lead(delivery.id, site_id=dest.site_id, at=clamp_reset(exc.at, time.time()))
        return SyncStatus.WAITING
    except FixInput as exc:
        _record(delivery, SyncStatus.ERROR, exc)
        db.session.commit()
        return SyncStatus.ERROR
    except RetryLater as exc:
        _record(delivery, SyncStatus.FAILED if final else SyncStatus.RETRYING, exc)
        db.session.commit()
        raise
    except ConnectorError as exc:
        _record(delivery, SyncStatus.FAILED, exc)
        db.session.commit()
        raise
    _succeed(delivery, result)
    db.session.commit()
    return SyncStatus.SYNCED


def _record(delivery: LeadDelivery, status: SyncStatus, exc: ConnectorError) -> None:
    delivery.status = status
    delivery.attempts = (delivery.attempts or 0) + 1
    delivery.last_error = {**exc.to_dict(), "at": utcnow().isoformat()}
    # Connector messages name fields, never values: safe to log.
    log.warning("lead delivery failed", extra={"lead_delivery": delivery.id, "status": str(status),
                                               "error": exc.message})


def _succeed(delivery: LeadDelivery, result: LeadResult) -> None:
    delivery.status = SyncStatus.SYNCED
    delivery.attempts = (delivery.attempts or 0) + 1
    delivery.remote_id = result.remote_id
    delivery.redirect_url = result.landing_url
    delivery.duplicate = result.duplicate
    delivery.last_error = None
    delivery.delivered_at = utcnow()
    log.info("lead delivered", extra={"lead_delivery": delivery.id, "remote_id": result.remote_id,
                                      "duplicate": result.duplicate})


def deliveries_of(lead: Lead) -> list[LeadDelivery]:
    return list(db.session.scalars(select(LeadDelivery).where(LeadDelivery.lead_id == lead.id)
                                   .order_by(LeadDelivery.id)))
