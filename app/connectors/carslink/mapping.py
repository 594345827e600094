"""Forecourt's canonical vehicle -> one Carslink listing, and the rules Carslink skips on.

Field names and enums follow the seed's field list (the same vocabulary as the inbound
format in ``app.listings.formats.carslink``). ``preflight_reason`` returns the reason
Carslink itself would give for skipping a listing, in its words ("minimum 4 image URLs
required (received 2)", "price must be numeric and > 0"), so a dealer reads the same
message whether Forecourt or Carslink caught it.
"""

from __future__ import annotations

import re
from typing import Any

from app.listings.vehicle import Vehicle
from app.text import fold

MIN_IMAGES = 4
KM_PER_MILE = 1.609344
VEHICLE_TYPES = {"car": "car", "motorcycle": "motorcycle", "motorbike": "motorcycle", "bike": "motorcycle",
                 "van": "van"}
TRANSMISSIONS = {
    "manual": "Manual", "mt": "Manual", "stick": "Manual",
    "automatic": "Automatic", "auto": "Automatic", "at": "Automatic", "steptronic": "Automatic",
    "semi automatic": "Semi-Automatic", "semi auto": "Semi-Automatic", "dsg": "Semi-Automatic",
    "dct": "Semi-Automatic", "dual clutch": "Semi-Automatic", "automated manual": "Semi-Automatic",
    "cvt": "CVT", "continuously variable": "CVT", "e cvt": "CVT",
}
FUELS = {
    "petrol": "Petrol", "gasoline": "Petrol", "unleaded": "Petrol",
    "diesel": "Diesel", "electric": "Electric", "ev": "Electric", "bev": "Electric",
    "hybrid": "Hybrid", "petrol hybrid": "Hybrid", "diesel hybrid": "Hybrid", "mild hybrid": "Hybrid",
    "plug in hybrid": "Plug-in Hybrid", "phev": "Plug-in Hybrid", "lpg": "LPG", "hydrogen": "Hydrogen",
}
LICENCE_CATEGORIES = ("A", "A1", "A2", "AM")
CONDITIONS = {"used": "Used", "new": "New", "nearly new": "Nearly New", "ex demo": "Nearly New",
              "demo": "Nearly New"}

# UK VRMs with spaces removed: current (AB12CDE), prefix (A123BCD), suffix (ABC123D),
# dateless (letters and digits either way round, incl. Northern Ireland's ABC 1234), Q plates.
_VRM = re.compile(
    r"^(?:[A-Z]{2}[0-9]{2}[A-Z]{3}|[A-Z][0-9]{1,3}[A-Z]{3}|[A-Z]{3}[0-9]{1,3}[A-Z]"
    r"|[A-Z]{1,4}[0-9]{1,4}|[0-9]{1,4}[A-Z]{1,4}|Q[0-9]{1,3}[A-Z]{3})$"
)
_CURRENT_VRM = re.compile(r"^([A-Z]{2}[0-9]{2})([A-Z]{3})$")
_VIN = re.compile(r"^[A-HJ-NPR-Z0-9]{17}$")


def normalise_vrm(value: str | None) -> str | None:
    """``ab21xyz`` / ``AB-21 XYZ`` -> ``AB21 XYZ`` (current plates spaced as printed); None
    when it is not a UK registration mark."""
    compact = re.sub(r"[\s\-]+", "", value or "").upper()
    if not _VRM.match(compact):
        return None
    current = _CURRENT_VRM.match(compact)
    return f"{current.group(1)} {current.group(2)}" if current else compact


def miles(kilometres: int | None) -> int | None:
    return None if kilometres is None else round(kilometres / KM_PER_MILE)


def _https(url: str | None) -> bool:
    return bool(url) and url.lower().startswith("https://") and len(url) > len("https://")


def _pick(table: dict[str, str], value: str | None) -> str | None:
    return table.get(fold(value)) if value else None


def vehicle_type(vehicle: Vehicle) -> str:
    return VEHICLE_TYPES.get(fold(vehicle.vehicle_type or "car"), "car")


def images(vehicle: Vehicle, *, allow_insecure: bool = False) -> list[str]:
    """Forecourt's media URLs (the engine swapped the dealer's for them, hero first), HTTPS
    only, each once: Carslink counts distinct HTTPS URLs towards its minimum of 4."""
    urls = [image.url for image in vehicle.images or [] if image.url]
    usable = [u for u in urls if _https(u) or (allow_insecure and u.startswith("http://"))]
    return list(dict.fromkeys(usable))


def listing(vehicle: Vehicle, *, allow_insecure_images: bool = False) -> tuple[dict[str, Any], list[str]]:
    """The listing for a live car (``source_id`` is the car's ref), and warnings for values
    left out because Carslink would refuse them."""
    warnings: list[str] = []
    kind = vehicle_type(vehicle)
    out: dict[str, Any] = {"source_id": vehicle.car_ref, "vehicle_type": kind}
    for key, value in (("make", vehicle.make), ("model", vehicle.model), ("variant", vehicle.trim),
                       ("year", vehicle.year), ("price", vehicle.price), ("mileage", miles(vehicle.kilometers))):
        if value is not None and value != "":
            out[key] = value
    vrm = normalise_vrm(vehicle.registration)
    if vrm:
        out["registration"] = vrm
    out["images"] = images(vehicle, allow_insecure=allow_insecure_images)
    fuel = _pick(FUELS, vehicle.fuel_type) or (vehicle.fuel_type.strip().title() if vehicle.fuel_type else None)
    if fuel:
        out["fuel"] = fuel
    if vehicle.transmission:
        gearbox = _pick(TRANSMISSIONS, vehicle.transmission)
        if gearbox:
            out["transmission"] = gearbox
        else:  # "validated for format if provided": a value outside the four would skip the car
            warnings.append(f"transmission {vehicle.transmission!r} is not one of Carslink's four; left out")
    for key, value in (("colour", vehicle.exterior_color), ("body_type", vehicle.body_type),
                       ("description", vehicle.description)):
        if value and value.strip():
            out[key] = value.strip()
    condition = _pick(CONDITIONS, vehicle.condition)
    if condition:
        out["condition"] = condition
    if vehicle.listing_url:
        if _https(vehicle.listing_url):
            out["listing_url"] = vehicle.listing_url
        else:
            warnings.append("listing_url is not HTTPS; left out (Carslink requires HTTPS)")
    if vehicle.vin:
        vin = re.sub(r"\s+", "", vehicle.vin).upper()
        if _VIN.match(vin):
            out["vin"] = vin
        else:
            warnings.append("vin is not 17 characters without I, O or Q; left out")
    if kind == "motorcycle":
        if vehicle.engine_cc:
            out["engine_size"] = vehicle.engine_cc
        if vehicle.bike_type:
            out["bike_type"] = vehicle.bike_type
        licence = (vehicle.licence_category or "").strip().upper()
        if licence in LICENCE_CATEGORIES:
            out["licence_category"] = licence
        elif licence:
            warnings.append(f"licence_category {vehicle.licence_category!r} is not A, A1, A2 or AM; left out")
    if kind == "van":
        for key, text in (("van_type", vehicle.van_type), ("roof_height", vehicle.roof_height)):
            if text:
                out[key] = text
        for key, text in (("load_length", vehicle.load_length), ("payload_kg", vehicle.payload_kg),
                          ("load_volume_m3", vehicle.load_volume_m3)):
            number = _number(text)
            if number is not None:
                out[key] = number
            elif text:
                warnings.append(f"{key} {text!r} is not a number; left out")
    return out, warnings


def _number(value: str | None) -> int | float | None:
    """Carslink takes van measures as numbers >= 0; sources send text ("2.5", "1,200")."""
    try:
        number = float(str(value).replace(",", "").strip()) if value else None
    except ValueError:
        return None
    if number is None or number < 0 or number != number:
        return None
    return int(number) if number.is_integer() else number


def preflight_reason(vehicle: Vehicle, item: dict[str, Any]) -> str | None:
    """Why Carslink would skip this listing (its own wording), or None. Checked in the order
    of the seed's required fields, so the first problem is the one Carslink would report."""
    for key in ("make", "model"):
        if not item.get(key):
            return f"{key} is required"
    year = item.get("year")
    if year is None:
        return "year is required"
    if not 1000 <= int(year) <= 9999:
        return "year must be a 4-digit integer"
    price = item.get("price")
    if price is None:
        return "price is required"
    if price <= 0:
        return "price must be numeric and > 0"
    if vehicle.currency and vehicle.currency.upper() != "GBP":
        return f"price must be in GBP (this car is priced in {vehicle.currency.upper()})"
    if item.get("mileage") is None:
        return "mileage is required"
    if item["mileage"] < 0:
        return "mileage must be an integer, zero or greater"
    if not (vehicle.registration or "").strip():
        return "registration is required"
    if not item.get("registration"):
        return "registration must be a UK Vehicle Registration Mark (VRM)"
    received = len(item.get("images") or [])
    if received < MIN_IMAGES:
        return f"minimum {MIN_IMAGES} image URLs required (received {received})"
    if item["vehicle_type"] in ("car", "van") and not item.get("body_type"):
        return f"body_type is required for {'cars' if item['vehicle_type'] == 'car' else 'vans'}"
    return None
