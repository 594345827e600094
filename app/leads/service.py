"""Lead intake: map the sender's fields, validate, store once per (site, submission id), then
give the lead destinations ``LEAD_WAIT_SECONDS`` (default 2) to answer while the shopper waits.

* Delivered in time: 200 with the destination's ``redirect_url`` (Roadster's landing page).
* Slow, down or rate-limited: 202 with a locally built landing link (Roadster's Express link,
  which carries the shopper's details encrypted), and the lead is delivered later by the retry
  job (``workers.lead_jobs.deliver_lead``), exactly once.
* The same submission again (the plugin's outbox, a double click): the stored lead's answer;
  nothing is sent twice. A delivery that ended in an error is tried again, since re-sending is
  how a fixed lead comes back.

The delivery job is queued right after the commit, due when the wait is over (so a web process
that dies mid-request loses no lead); the inline attempt then runs in the request, its HTTP
timeouts cut to the time left, so the shopper never waits for a worker to be free. A failed
inline attempt moves that job to its queue at once.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from typing import Any

from flask import current_app
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from app.connectors.base import ConnectorKind
from app.connectors.errors import ConnectorError
from app.connectors.kinds import LeadSink
from app.extensions import db
from app.jobs import enqueue
from app.leads import delivery as deliveries
from app.leads import forms
from app.leads.models import Lead, LeadDelivery
from app.leads.privacy import email_hash
from app.leads.schemas import LeadSchema
from app.listings.models import Car
from app.listings.statuses import SyncStatus
from app.sites.models import Destination, Site
from app.sync import destinations as dest_service

log = logging.getLogger("forecourt.leads")
# Statuses a re-sent lead tries again: errors (re-sending is how a fixed lead comes back), and
# pending (its first request may have died before its job was queued: a second job is harmless,
# one attempt runs at a time and a delivered lead is never sent again). Retrying and waiting
# deliveries already have their job.
RETRY_ON_RESEND = (SyncStatus.ERROR, SyncStatus.FAILED, SyncStatus.PENDING)
SAFETY_NET_SECONDS = 1.0


@dataclass
class Answer:
    status_code: int
    body: dict[str, Any] = field(default_factory=dict)


def lead_destinations(site: Site) -> list[Destination]:
    return [d for d in site.destinations
            if d.enabled and dest_service.connector_class(d.marketplace).kind is ConnectorKind.LEAD]


def load(site: Site, data: Any, fallback_id: str) -> dict[str, Any]:
    """The sender's body → a validated canonical lead (``ValidationError`` → 422)."""
    options = site.options or {}
    doc = forms.canonical(data, forms.field_map(options.get("lead_form"), options.get("lead_fields")))
    doc.setdefault("submission_id", fallback_id)
    return LeadSchema(phone_region=options.get("phone_region")).load(doc)


def find_car(site_id: str, car: dict[str, Any]) -> Car | None:
    """The car by post id, stock number or VIN, whichever the site uses as its car ref."""
    refs = [str(car[k]).strip() for k in ("post_id", "stock_number", "vin") if car.get(k) not in (None, "", 0)]
    if not refs:
        return None
    found = {c.car_ref: c for c in db.session.scalars(select(Car).where(Car.site_id == site_id,
                                                                         Car.car_ref.in_(refs)))}
    return next((found[ref] for ref in refs if ref in found), None)


def receive(site: Site, loaded: dict[str, Any], *, form: str, request_id: str | None) -> Answer:
    lead, created = _store(site, loaded, form, request_id)
    wait = current_app.config["FORECOURT"].lead_wait_seconds
    rows = deliveries.deliveries_of(lead)
    jobs: dict[int, str] = {}
    if created:
        # Queued right after the commit, due once the wait is over: should this process die
        # mid-request, the lead is still delivered. A job finding it delivered does nothing.
        due = time.time() + wait + SAFETY_NET_SECONDS
        jobs = {row.id: enqueue.deliver_lead(row.id, site_id=site.id, at=due).id for row in rows}
    pending = [row for row in rows if created or row.status in RETRY_ON_RESEND]
    _deliver_within(site, pending, wait, jobs)
    return answer(lead)


def _store(site: Site, loaded: dict[str, Any], form: str, request_id: str | None) -> tuple[Lead, bool]:
    existing = db.session.scalar(select(Lead).where(Lead.site_id == site.id,
                                                    Lead.submission_id == loaded["submission_id"]))
    if existing is not None:
        return existing, False
    car = find_car(site.id, loaded.get("car") or {})
    vin = (car.vehicle or {}).get("vin") if car is not None else None
    person = {k: loaded.get(k) for k in ("first_name", "last_name", "email", "phone", "message", "source_url")}
    lead = Lead(site_id=site.id, submission_id=loaded["submission_id"], car_id=car.id if car else None,
                car_ref=car.car_ref if car else _car_ref(loaded.get("car") or {}),
                vin=vin or (loaded.get("car") or {}).get("vin"), form=form, person=person,
                email_hash=email_hash(loaded["email"]), request_id=request_id)
    lead.deliveries = [LeadDelivery(destination_id=d.id, status=SyncStatus.PENDING, attempts=0, duplicate=False)
                       for d in lead_destinations(site)]
    db.session.add(lead)
    try:
        db.session.commit()
    except IntegrityError:
        # The same submission raced in on another request: that one owns the delivery.
        db.session.rollback()
        return db.session.scalar(select(Lead).where(Lead.site_id == site.id,
                                                    Lead.submission_id == loaded["submission_id"])), False
    log.info("lead received", extra={"lead": lead.id, "site": site.id, "car": lead.car_ref,
                                     "destinations": len(lead.deliveries)})
    return lead, True


def _car_ref(car: dict[str, Any]) -> str | None:
    for key in ("post_id", "stock_number", "vin"):
        if car.get(key) not in (None, "", 0):
            return str(car[key])[:255]
    return None


def _deliver_within(site: Site, pending: list[LeadDelivery], wait: float, jobs: dict[int, str]) -> None:
    """Try each delivery inline until ``wait`` seconds are spent; the rest go to the job."""
    settings = current_app.config["FORECOURT"]
    deadline = time.monotonic() + wait
    for item in pending:
        left = deadline - time.monotonic()
        if left < 0.05:
            _to_job(site, item, jobs)
            continue
        try:
            deliveries.attempt(item.id, timeout=(min(settings.http_connect_timeout, left), left), final=False)
        except ConnectorError:
            # Recorded on the delivery; the job retries with the one retry policy.
            _to_job(site, item, jobs)


def _to_job(site: Site, item: LeadDelivery, jobs: dict[int, str]) -> None:
    """Run the delivery's safety-net job now, or queue one (a re-sent lead has none)."""
    job_id = jobs.get(item.id)
    if job_id is None or not enqueue.run_now(job_id):
        enqueue.deliver_lead(item.id, site_id=site.id)


def answer(lead: Lead) -> Answer:
    """200 with the first destination's landing page once delivered; otherwise 202 with the
    first local landing link (Express) a lead destination can build, or none."""
    rows = deliveries.deliveries_of(lead)
    for row in rows:
        db.session.refresh(row)
    done = next((r for r in rows if r.status == SyncStatus.SYNCED and r.redirect_url), None)
    base = {"leadId": lead.id, "submissionId": lead.submission_id,
            "deliveries": [{"destinationId": r.destination_id, "status": r.status, "duplicate": r.duplicate}
                           for r in rows]}
    if done is not None:
        return Answer(200, {"status": "delivered", "redirect_url": done.redirect_url, "duplicate": done.duplicate,
                            **base})
    if not rows:
        return Answer(202, {"status": "stored", "redirect_url": None, **base})
    return Answer(202, {"status": "queued", "redirect_url": _landing_link(lead, rows), **base})


def _landing_link(lead: Lead, rows: list[LeadDelivery]) -> str | None:
    document = deliveries.lead_document(lead)
    for row in rows:
        dest = db.session.get(Destination, row.destination_id)
        if dest is None:
            continue
        try:
            connector: LeadSink = dest_service.build_connector(dest)
        except ConnectorError:
            continue
        link = connector.landing_link(document)
        if link:
            return link
    return None
