"""A dealer's whole live stock as one feed destination would receive it in a full feed: the
same cars, photos and preflight as ``batches.send_full`` (which uses ``in_whole_stock``), for
the pull endpoint and the CSV export, which must offer exactly what a full feed would send."""

from __future__ import annotations

from sqlalchemy import select

from app.connectors.kinds import FeedItem, FeedSink
from app.extensions import db
from app.listings.models import Car
from app.listings.statuses import ListingStatus
from app.sites.models import Destination
from app.sync import destinations as dest_service
from app.sync.vehicles import use_media, vehicle_of


def in_whole_stock(status: str | None) -> bool:
    """Whether a car of this status is in a full feed (a hidden or removed car is left out,
    which is how a full feed removes it)."""
    return status is not None and status not in (ListingStatus.INACTIVE, ListingStatus.DELETED)


def whole_stock(dest: Destination) -> tuple[FeedSink, list[FeedItem]]:
    """The destination's connector and the items of a full feed, preflight-skipped cars left out."""
    connector: FeedSink = dest_service.build_connector(dest)  # type: ignore[assignment]
    items = []
    cars = db.session.scalars(select(Car).where(Car.site_id == dest.site_id).order_by(Car.id))
    for car in cars:
        if not in_whole_stock(car.status):
            continue
        vehicle = vehicle_of(car, dest)
        use_media(vehicle)
        item = FeedItem(car.car_ref, vehicle)
        if connector.preflight(item) is None:
            items.append(item)
    return connector, items
