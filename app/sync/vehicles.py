"""What every delivery path shares about one car: its canonical vehicle as a connector sees it,
its photos swapped for Forecourt's copies, and its sync state at a destination."""

from __future__ import annotations

from app.extensions import db
from app.listings.models import Car, SyncState
from app.listings.rules import apply_rules
from app.listings.statuses import SyncStatus
from app.listings.vehicle import Image, Vehicle
from app.media import service as media
from app.sites.models import Destination


def vehicle_of(car: Car, dest: Destination, *, rules: bool = True) -> Vehicle:
    """The car as ``dest`` should see it: its canonical (merged by VIN) data, then the site's
    transformation rules for ``dest``'s marketplace (``rules=False``: the dry run's "before")."""
    vehicle = Vehicle.from_dict({**(car.vehicle or {}), "source": car.source, "car_ref": car.car_ref})
    vehicle.status = car.status
    if rules:
        apply_rules(vehicle, (dest.site.options or {}).get("rules"), dest.marketplace)
    return vehicle


def use_media(vehicle: Vehicle) -> list[str]:
    """Swap the dealer's photo URLs for Forecourt's normalised copies; report the ones that failed."""
    if not vehicle.images:
        return []
    good, bad = media.resolve([{"url": image.url, "id": image.id} for image in vehicle.images])
    vehicle.images = [Image(url=item["url"], id=item.get("id")) for item in good]
    return [f"photo {item['position']} ({item['url']}): {item['error']}" for item in bad]


def new_state(car: Car, dest: Destination) -> SyncState:
    state = SyncState(car_id=car.id, destination_id=dest.id, status=SyncStatus.PENDING, warnings=[], attempts=0)
    db.session.add(state)
    return state
