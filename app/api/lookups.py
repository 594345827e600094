"""The admin API's lookups by path segment: a missing site or car is the envelope's 404."""

from __future__ import annotations

from sqlalchemy import select

from app.errors import NotFound
from app.extensions import db
from app.listings.models import Car
from app.sites.models import Site


def site_or_404(site_id: str) -> Site:
    site = db.session.get(Site, site_id)
    if site is None:
        raise NotFound(f"No site {site_id!r}.")
    return site


def car_or_404(site_id: str, car_ref: str) -> Car:
    car = db.session.scalar(select(Car).where(Car.site_id == site_id, Car.car_ref == car_ref))
    if car is None:
        raise NotFound(f"No car {car_ref!r} at site {site_id!r}.")
    return car
