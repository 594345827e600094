"""The canonical vehicle: the one shape every source maps into and every connector maps out of.

Sources (WordPress presets, DMS feeds) produce a ``Vehicle``; connectors never see WordPress
or DMS field names. It travels through Redis and RQ as a plain dict (``to_dict``/``from_dict``).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields
from typing import Any

from app.listings.statuses import ListingStatus

# Lifecycle intent of a car on the marketplaces, decided by status mapping.
#   active / inactive / sold / reserved / coming_soon -> create or patch with that status
#   deleted -> remove from marketplaces
#   None -> nothing to send (never published draft, future post, ...)
LISTING_STATUSES = tuple(s.value for s in ListingStatus if s is not ListingStatus.DELETED)
DELETED = ListingStatus.DELETED


@dataclass
class Image:
    url: str
    id: str | None = None


@dataclass
class Vehicle:
    source: str  # "wordpress" | "dms"
    car_ref: str  # WordPress post ID, or VIN / DMS source id
    status: str | None = None  # one of LISTING_STATUSES, DELETED, or None
    make: str | None = None
    model: str | None = None
    year: int | None = None
    trim: str | None = None
    title: str | None = None
    description: str | None = None
    price: int | None = None  # whole currency units
    msrp: int | None = None
    currency: str | None = None
    kilometers: int | None = None  # always kilometres; connectors convert
    vin: str | None = None
    stock_number: str | None = None
    registration: str | None = None
    exterior_color: str | None = None
    interior_color: str | None = None
    body_type: str | None = None  # free text; connectors map to their enums
    transmission: str | None = None
    fuel_type: str | None = None
    drive_type: str | None = None
    engine: str | None = None
    engine_cc: int | None = None
    horsepower: int | None = None
    doors: int | None = None
    seats: int | None = None
    condition: str | None = None  # "new" | "used" | free text
    vehicle_type: str | None = None  # car | motorcycle | van
    # Motorbike and van details, as the source words them (Carslink's fields; feeds that carry them).
    bike_type: str | None = None
    licence_category: str | None = None  # UK: A, A1, A2, AM
    van_type: str | None = None
    roof_height: str | None = None
    load_length: str | None = None
    payload_kg: str | None = None
    load_volume_m3: str | None = None
    features: list[str] = field(default_factory=list)
    images: list[Image] = field(default_factory=list)
    salesperson: str | None = None
    listing_url: str | None = None
    post_id: str | None = None
    modified_at: str | None = None  # ISO 8601 UTC; orders events for last-write-wins
    # Stock-system fields (Auterio). Mappable from a site's preset like any other field.
    first_registration: str | None = None  # YYYY-MM-DD
    category: str | None = None
    location: str | None = None
    # The dealer's purchase price: confidential. Only a destination that opts in sends it
    # (Auterio's ``send_cost_price``); no DMS table fills it, and Sentry scrubs it.
    cost_price: int | None = None
    warnings: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Vehicle:
        known = {f.name for f in fields(cls)}
        values = {k: v for k, v in data.items() if k in known}
        values["images"] = [
            img if isinstance(img, Image) else Image(**img) for img in values.get("images") or []
        ]
        return cls(**values)
