"""Re-merge a site's cars after its ``merge`` config changed (the merge runs when a source's
event applies, so a new config otherwise waits for each car's next change)."""

from __future__ import annotations

from sqlalchemy import func, select

from app.extensions import db
from app.listings.history import CarVersion
from app.listings.models import Car
from app.listings.service import merge_cars
from app.sites.models import Site
from app.sync.engine import deliver


def remerge_site(site_id: str) -> dict[str, int]:
    """Merge every car several sources describe with the site's current config; cars whose
    result changed are delivered to every destination. Returns the counts."""
    site = db.session.get(Site, site_id)
    if site is None:
        return {"cars": 0, "changed": 0}
    car_ids = db.session.scalars(
        select(CarVersion.car_id).where(CarVersion.site_id == site_id)
        .group_by(CarVersion.car_id).having(func.count(func.distinct(CarVersion.source)) > 1)
    ).all()
    changed = []
    for car in db.session.scalars(select(Car).where(Car.id.in_(car_ids))):
        before = (dict(car.vehicle or {}), car.status)
        merge_cars(site, car)
        if (car.vehicle, car.status) != before:
            changed.append(car.id)
    db.session.commit()
    for car_id in changed:
        for dest in site.destinations:
            if dest.enabled:
                deliver(car_id, dest)
    return {"cars": len(car_ids), "changed": len(changed)}
