"""One pull of an inventory source: read every page, turn changed vehicles into source events,
and remove vanished ones only after their grace.

* **Fingerprints**: each vehicle's mapped form is fingerprinted; an unchanged one makes no
  event (and so no sync, no push).
* **Events**: a changed vehicle becomes a ``source`` event for the car holding its VIN (any
  source's car, so WordPress and Carfluence merge into one), debounced and applied like any other.
  When a WordPress or DMS car takes a VIN this source had a car of its own for, that car is
  removed at the next pull and the vehicle joins the other car (``moved``).
* **Sold grace**: a vehicle missing from ``grace_pulls`` consecutive complete pulls (default 3),
  or missing for ``grace_hours``, is removed.
* **Nothing removed on a bad pull**: a 5xx, timeout or page missing mid-way (``failed``),
  totals that moved while paging or fewer vehicles than the total (``partial``), or a total
  that shrank by more than ``max_shrink`` (default 0.2) since the last complete pull
  (``shrunk``: removals wait for a pull with ``accept_shrink``) still apply the changes read,
  but count nobody as missing.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from sqlalchemy import select

from app.connectors.base import ConnectorKind
from app.connectors.errors import ConnectorError, Reauthenticate, RetryAt
from app.connectors.payload import fingerprint
from app.extensions import db, redis_store
from app.jobs import enqueue
from app.listings import history
from app.listings.models import Car
from app.sites.models import Destination
from app.sources.models import SourceItem, SourcePull
from app.sync import destinations as dest_service
from app.sync.engine import debouncer
from app.sync.transport import clamp_reset
from app.timeutil import utcnow

log = logging.getLogger("forecourt.sources")
DEFAULT_GRACE_PULLS = 3
DEFAULT_MAX_SHRINK = 0.2


@dataclass
class Read:
    """What the pages gave: vehicles by VIN, the totals each page claimed, and how it ended."""

    items: list[dict[str, Any]] = field(default_factory=list)
    totals: set[int | None] = field(default_factory=set)
    pages: int = 0
    error: ConnectorError | None = None


def is_source(dest: Destination) -> bool:
    return dest_service.connector_class(dest.marketplace).kind is ConnectorKind.SOURCE


def read_all(connector: Any) -> Read:
    read = Read()
    cursor: str | None = None
    try:
        while True:
            page = connector.pull(cursor)
            read.pages += 1
            read.items.extend(page.items)
            read.totals.add(page.total)
            cursor = page.next_cursor
            if cursor is None:
                return read
    except ConnectorError as exc:
        read.error = exc
        return read


def pull(destination_id: int, *, accept_shrink: bool = False) -> dict[str, Any]:
    dest = db.session.get(Destination, destination_id)
    if dest is None or not dest.enabled or not dest.site.active or not is_source(dest):
        return {"outcome": "skip", "reason": "not an enabled inventory source"}
    if dest.paused:
        return {"outcome": "skip", "reason": f"paused: {dest.paused_reason}"}
    options = dest.options or {}
    run = SourcePull(destination_id=dest.id, outcome="running", counts={})
    db.session.add(run)
    db.session.commit()
    connector = dest_service.build_connector(dest)
    read = read_all(connector)
    outcome, reason = _judge(dest, read, accept_shrink, float(options.get("max_shrink", DEFAULT_MAX_SHRINK)))
    counts = _apply(dest, connector, read.items, removals=outcome == "complete", options=options)
    counts.update(pages=read.pages, read=len(read.items))
    run.outcome, run.counts, run.finished_at = outcome, counts, utcnow()
    run.total = next(iter(read.totals)) if len(read.totals) == 1 else None
    run.error = reason[:500] if reason else None
    if isinstance(read.error, Reauthenticate):
        dest_service.pause(dest, read.error.message)
    db.session.commit()
    if isinstance(read.error, RetryAt):
        # Out of budget (or a 429): the whole pull again at the reset; fingerprints make it cheap.
        enqueue.pull_source(dest.id, site_id=dest.site_id, at=clamp_reset(read.error.at, time.time()))
    log.info("source pulled", extra={"destination": dest.slug, "outcome": outcome, **counts})
    return {"outcome": outcome, "pullId": run.id, "reason": reason, **counts}


def _judge(dest: Destination, read: Read, accept_shrink: bool, max_shrink: float) -> tuple[str, str | None]:
    if read.error is not None:
        kind = "rate_limited" if isinstance(read.error, RetryAt) else "failed"
        return kind, f"page {read.pages + 1}: {read.error.message}"
    if len(read.totals) != 1:
        return "partial", f"the total changed while paging ({sorted(t for t in read.totals if t is not None)})"
    total = next(iter(read.totals))
    if total is not None and len(read.items) < total:
        return "partial", f"read {len(read.items)} vehicles of a total of {total}"
    previous = db.session.scalar(
        select(SourcePull.total).where(SourcePull.destination_id == dest.id, SourcePull.outcome == "complete")
        .order_by(SourcePull.id.desc()).limit(1)
    )
    count = len(read.items) if total is None else total
    if previous and not accept_shrink and count < previous * (1 - max_shrink):
        return "shrunk", f"{count} vehicles, down from {previous}: more than {max_shrink:.0%} gone at once"
    return "complete", None


def _apply(dest: Destination, connector: Any, items: list[dict[str, Any]], *, removals: bool,
           options: dict[str, Any]) -> dict[str, Any]:
    known = {row.vin: row for row in db.session.scalars(select(SourceItem).where(SourceItem.destination_id == dest.id))}
    now = utcnow()
    stamp = now.timestamp()
    seen: set[str] = set()
    counts = {"changed": 0, "unchanged": 0, "invalid": 0, "missing": 0, "removed": 0, "moved": 0}
    pipe = redis_store.client.pipeline(transaction=False)
    queue = debouncer()
    owners = history.cars_by_vin(dest.site_id, besides=dest.marketplace)
    for item in items:
        vehicle, problems = connector.vehicle(item)
        vin = vehicle.get("vin")
        if not vin:
            counts["invalid"] += 1
            continue
        seen.add(vin)
        digest = fingerprint({"vehicle": vehicle, "errors": problems})
        row = known.get(vin)
        if row is None:
            row = known[vin] = SourceItem(destination_id=dest.id, vin=vin,
                                          car_ref=owners.get(vin) or _car_ref(dest.site_id, vin),
                                          missing_pulls=0, removed=False)
            db.session.add(row)
        elif owners.get(vin, row.car_ref) != row.car_ref:
            # Another source's car (WordPress, the DMS) now has this VIN: this source's car named
            # by the VIN goes, and the vehicle joins that car from now on (merge by VIN).
            if not row.removed:
                queue.submit(dest.site_id, row.car_ref, _removal(dest, vin, stamp, "moved"), now=stamp, pipe=pipe)
            row.car_ref, row.fingerprint = owners[vin], None
            counts["moved"] += 1
        if row.missing_pulls or row.missing_since or row.last_seen_at is None:
            # Only rows that change are written: a no-change pull of 5,000 vehicles updates none.
            row.last_seen_at, row.missing_pulls, row.missing_since = now, 0, None
        if row.fingerprint == digest and not row.removed:
            counts["unchanged"] += 1
            continue
        event = {"channel": "source", "source": dest.marketplace, "vehicle": vehicle, "errors": problems,
                 "received_at": stamp, "modified_at": stamp, "delivery_id": f"pull:{dest.id}:{vin}:{digest[:24]}"}
        queue.submit(dest.site_id, row.car_ref, event, now=stamp, pipe=pipe)
        row.fingerprint, row.removed, row.last_seen_at = digest, False, now
        counts["changed"] += 1
    if removals:
        grace_pulls = int(options.get("grace_pulls", DEFAULT_GRACE_PULLS))
        grace_hours = options.get("grace_hours")
        for vin, row in known.items():
            if vin in seen or row.removed:
                continue
            row.missing_pulls = (row.missing_pulls or 0) + 1
            row.missing_since = row.missing_since or now
            since = row.missing_since if row.missing_since.tzinfo else row.missing_since.replace(tzinfo=now.tzinfo)
            overdue = grace_hours is not None and now - since >= timedelta(hours=float(grace_hours))
            if row.missing_pulls < grace_pulls and not overdue:
                counts["missing"] += 1
                continue
            queue.submit(dest.site_id, row.car_ref, _removal(dest, vin, stamp, "removed"), now=stamp, pipe=pipe)
            row.removed, row.fingerprint = True, None
            counts["removed"] += 1
    # Events first, fingerprints after: a crash between the two re-sends changes, never loses them.
    pipe.execute()
    return counts


def _removal(dest: Destination, vin: str, stamp: float, why: str) -> dict[str, Any]:
    return {"channel": "source", "source": dest.marketplace, "delete": True, "received_at": stamp,
            "modified_at": stamp, "delivery_id": f"pull:{dest.id}:{vin}:{why}:{int(stamp)}"}


def _car_ref(site_id: str, vin: str) -> str:
    """The car this VIN belongs to at the site: the one any source already tied it to, else
    a new car named by the VIN."""
    car_id = history.car_for_vin(site_id, vin)
    if car_id is not None:
        car = db.session.get(Car, car_id)
        if car is not None:
            return car.car_ref
    return vin
