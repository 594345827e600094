"""DMS full_replace feeds: cars missing from a feed are removed only after a grace.

One broken feed (an export that came out empty, a DMS outage mid-export) must not empty a
dealer's listings, so a car is removed only after it has been missing from
``full_replace_grace_feeds`` consecutive full feeds (default 2), or, if the site sets
``full_replace_grace_hours``, once it has been missing that long (checked at each feed).
"""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from app.extensions import db
from app.jobs import enqueue
from app.listings.models import Car
from app.listings.vehicle import DELETED
from app.sites.models import Site
from app.timeutil import utcnow

DEFAULT_GRACE_FEEDS = 2


def enqueue_full_replace(site_id: str, present_ids: list[str]) -> int:
    """Queue the missing-car bookkeeping; returns how many cars are currently missing."""
    known = set(db.session.scalars(
        select(Car.car_ref).where(Car.site_id == site_id, Car.source == "dms", Car.status != DELETED)
    ))
    enqueue.full_replace(site_id, present_ids)
    return len(known - set(present_ids))


def apply_full_replace(site_id: str, present_ids: list[str]) -> dict[str, int]:
    site = db.session.get(Site, site_id)
    if site is None:
        return {"removed": 0, "missing": 0}
    options = site.options or {}
    grace_feeds = int(options.get("full_replace_grace_feeds", DEFAULT_GRACE_FEEDS))
    grace_hours = options.get("full_replace_grace_hours")
    present = set(present_ids)
    now = utcnow()
    removed, missing = [], 0
    cars = db.session.scalars(
        select(Car).where(Car.site_id == site_id, Car.source == "dms", Car.status.is_distinct_from(DELETED))
    )
    for car in cars:
        if car.car_ref in present:
            car.missing_feeds, car.missing_since = 0, None
            continue
        car.missing_feeds = (car.missing_feeds or 0) + 1
        car.missing_since = car.missing_since or now
        since = car.missing_since if car.missing_since.tzinfo else car.missing_since.replace(tzinfo=now.tzinfo)
        overdue = grace_hours is not None and now - since >= timedelta(hours=float(grace_hours))
        if car.missing_feeds >= grace_feeds or overdue:
            car.status = DELETED
            removed.append(car)
        else:
            missing += 1
    db.session.commit()
    from app.sync.engine import deliver

    for car in removed:
        for dest in site.destinations:
            if dest.enabled:
                deliver(car.id, dest)
    return {"removed": len(removed), "missing": missing}
