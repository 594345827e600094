"""A Carfluence vehicle → Forecourt's canonical vehicle (as a plain dict).

Carfluence is a US aggregator (VINs, ``days_on_lot``, prices as decimal strings), so
``mileage`` is read as miles and converted to kilometres, and prices default to USD unless
the site names its currency. ``days_on_lot`` and ``updated_at`` change without the car
changing, so they never reach the vehicle (and so never change its fingerprint).
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any

from app.listings.statuses import ListingStatus
from app.listings.vehicle import Vehicle

MILE_KM = Decimal("1.609344")
# Carfluence status → what the car should be on a marketplace.
STATUSES: dict[str, str] = {
    "active": ListingStatus.ACTIVE,
    "pending": ListingStatus.RESERVED,  # a deal is pending: shown, but not for sale
    "sold": ListingStatus.SOLD,
    "in_transit": ListingStatus.COMING_SOON,
}
# Carfluence field → canonical field, copied as text when present.
TEXT_FIELDS: dict[str, str] = {
    "make": "make", "model": "model", "trim": "trim", "stock_number": "stock_number",
    "body_style": "body_type", "exterior_color": "exterior_color", "interior_color": "interior_color",
    "transmission": "transmission", "drivetrain": "drive_type", "fuel_type": "fuel_type",
    "engine": "engine", "description": "description", "condition": "condition",
}  # fmt: skip


def whole_units(value: Any) -> int | None:
    """``"25999.50"`` → 26000: canonical prices are whole currency units (half rounds up)."""
    if value is None or isinstance(value, bool):
        return None
    try:
        amount = Decimal(str(value))
    except InvalidOperation:
        return None
    if not amount.is_finite() or amount < 0:
        return None
    return int(amount.quantize(Decimal(1), rounding=ROUND_HALF_UP))


def to_vehicle(item: Mapping[str, Any], *, currency: str | None = None) -> tuple[dict[str, Any], dict[str, str]]:
    """(canonical vehicle dict, field problems). A vehicle without a usable VIN has no identity
    here and is reported, not mapped."""
    problems: dict[str, str] = {}
    vin = str(item.get("vin") or "").strip().upper()
    if len(vin) != 17 or any(c in "IOQ" for c in vin):
        return {}, {"vin": "must be 17 characters without I, O or Q"}
    vehicle = Vehicle(source="source", car_ref=vin, vin=vin)
    for theirs, ours in TEXT_FIELDS.items():
        value = item.get(theirs)
        if isinstance(value, str) and value.strip():
            setattr(vehicle, ours, value.strip())
    year = item.get("year")
    if isinstance(year, int) and not isinstance(year, bool):
        vehicle.year = year
    elif year is not None:
        problems["year"] = "must be an integer"
    vehicle.price = whole_units(item.get("price"))
    if item.get("price") is not None and vehicle.price is None:
        problems["price"] = "must be a non-negative decimal"
    vehicle.msrp = whole_units(item.get("msrp"))
    miles = item.get("mileage")
    if isinstance(miles, int | float) and not isinstance(miles, bool) and miles >= 0:
        vehicle.kilometers = int((Decimal(str(miles)) * MILE_KM).quantize(Decimal(1), rounding=ROUND_HALF_UP))
    status = item.get("status")
    vehicle.status = STATUSES.get(str(status or "active"))
    if vehicle.status is None:
        problems["status"] = f"unknown status {status!r}"
        vehicle.status = ListingStatus.INACTIVE  # an unknown state must not stay on sale
    # Carfluence has no title; marketplaces want one, as dealers write it: "2024 Honda Accord EX".
    vehicle.title = " ".join(str(p) for p in (vehicle.year, vehicle.make, vehicle.model, vehicle.trim) if p) or None
    vehicle.currency = str(item.get("currency") or currency or "USD")
    vehicle.images = [_image(photo) for photo in item.get("photos") or [] if _image(photo) is not None]
    return vehicle.to_dict(), problems


def _image(photo: Any) -> Any:
    if isinstance(photo, str) and photo:
        return {"url": photo, "id": None}
    if isinstance(photo, Mapping) and isinstance(photo.get("url"), str):
        return {"url": photo["url"], "id": str(photo["id"]) if photo.get("id") is not None else None}
    return None
