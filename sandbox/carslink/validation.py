"""Carslink's listing and dealer rules (seed 002), as pure functions.

A listing that breaks a rule is *skipped* with one reason (the first rule it breaks, in the
order of the seed's field list), never the whole feed. Reasons quoted in the seed are used
verbatim ("minimum 4 image URLs required (received 2)", "price must be numeric and > 0");
the others follow the same style.
"""

from __future__ import annotations

import math
import re
from typing import Any
from urllib.parse import parse_qsl, urlsplit

MIN_IMAGES = 4
VEHICLE_TYPES = ("car", "motorcycle", "van")
VEHICLE_TYPE_ALIASES = {"motorbike": "motorcycle"}
TRANSMISSIONS = ("Manual", "Automatic", "Semi-Automatic", "CVT")
LICENCE_CATEGORIES = ("A", "A1", "A2", "AM")
SHORT_DESCRIPTION = 20  # "If absent or under 20 characters, an AI-generated description is created"
FIRST_YEAR = 1886

TEXT_FIELDS = (
    "make",
    "model",
    "variant",
    "fuel",
    "colour",
    "body_type",
    "condition",
    "description",
    "bike_type",
    "van_type",
    "roof_height",
)
NUMBER_FIELDS = ("engine_size", "load_length", "payload_kg", "load_volume_m3")
LISTING_FIELDS = frozenset(
    {
        "vehicle_type",
        "make",
        "model",
        "variant",
        "year",
        "price",
        "mileage",
        "registration",
        "images",
        "fuel",
        "fuel_type",
        "transmission",
        "colour",
        "body_type",
        "condition",
        "listing_url",
        "description",
        "vin",
        "source_id",
        "engine_size",
        "bike_type",
        "licence_category",
        "van_type",
        "roof_height",
        "load_length",
        "payload_kg",
        "load_volume_m3",
        "delete",
    }
)
OVERRIDDEN_FIELDS = ("location", "region")

# UK VRMs, spaces removed: current (AB12CDE), prefix (A123BCD), suffix (ABC123D), dateless
# (1-4 letters + 1-4 digits either way round, incl. Northern Ireland's ABC 1234), Q plates.
_VRM_RE = re.compile(
    r"^(?:[A-Z]{2}[0-9]{2}[A-Z]{3}"
    r"|[A-Z][0-9]{1,3}[A-Z]{3}"
    r"|[A-Z]{3}[0-9]{1,3}[A-Z]"
    r"|[A-Z]{1,4}[0-9]{1,4}"
    r"|[0-9]{1,4}[A-Z]{1,4}"
    r"|Q[0-9]{1,3}[A-Z]{3})$"
)
_VIN_RE = re.compile(r"^[A-HJ-NPR-Z0-9]{17}$")
# Outward code + inward code; the outward code's letters are the postcode area.
_POSTCODE_RE = re.compile(r"^([A-Z]{1,2})([0-9][A-Z0-9]?) ?([0-9][A-Z]{2})$")
_UK_PHONE_RE = re.compile(r"^(?:\+44|0)[0-9]{9,10}$")
_EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_SIGNED_QUERY_KEYS = {
    "x-amz-signature",
    "x-amz-expires",
    "signature",
    "expires",
    "se",
    "sig",
    "token",
    "x-goog-signature",
}

# Postcode area → (location, region): a small stand-in for Carslink's UK postcode lookup.
POSTCODE_AREAS: dict[str, tuple[str, str]] = {
    "M": ("Manchester", "North West"),
    "L": ("Liverpool", "North West"),
    "WA": ("Warrington", "North West"),
    "B": ("Birmingham", "West Midlands"),
    "CV": ("Coventry", "West Midlands"),
    "LS": ("Leeds", "Yorkshire and the Humber"),
    "S": ("Sheffield", "Yorkshire and the Humber"),
    "NE": ("Newcastle upon Tyne", "North East"),
    "NG": ("Nottingham", "East Midlands"),
    "LE": ("Leicester", "East Midlands"),
    "BS": ("Bristol", "South West"),
    "EX": ("Exeter", "South West"),
    "RG": ("Reading", "South East"),
    "OX": ("Oxford", "South East"),
    "CB": ("Cambridge", "East of England"),
    "NR": ("Norwich", "East of England"),
    "E": ("London", "London"),
    "EC": ("London", "London"),
    "N": ("London", "London"),
    "NW": ("London", "London"),
    "SE": ("London", "London"),
    "SW": ("London", "London"),
    "W": ("London", "London"),
    "WC": ("London", "London"),
    "G": ("Glasgow", "Scotland"),
    "EH": ("Edinburgh", "Scotland"),
    "AB": ("Aberdeen", "Scotland"),
    "CF": ("Cardiff", "Wales"),
    "SA": ("Swansea", "Wales"),
    "BT": ("Belfast", "Northern Ireland"),
}


class Skip(Exception):
    """The listing is skipped; ``str(exc)`` is the reason the partner sees."""


def normalise_vrm(value: str) -> str:
    return re.sub(r"[\s\-]+", "", value).upper()


def normalise_postcode(value: str) -> str | None:
    """``m12ab`` → ``M1 2AB``; None when it is not a UK postcode."""
    compact = re.sub(r"\s+", "", value).upper()
    match = _POSTCODE_RE.match(compact)
    if not match:
        return None
    return f"{match.group(1)}{match.group(2)} {match.group(3)}"


def resolve_postcode(postcode: str | None) -> tuple[str | None, str | None]:
    if not postcode:
        return None, None
    area = re.match(r"[A-Z]+", postcode)
    return POSTCODE_AREAS.get(area.group(0), (None, None)) if area else (None, None)


def is_https_url(value: Any) -> bool:
    if not isinstance(value, str):
        return False
    try:
        parts = urlsplit(value.strip())
    except ValueError:
        return False
    return parts.scheme == "https" and bool(parts.hostname)


def is_http_url(value: Any) -> bool:
    if not isinstance(value, str):
        return False
    try:
        parts = urlsplit(value.strip())
    except ValueError:
        return False
    return parts.scheme in ("http", "https") and bool(parts.hostname)


def looks_signed(url: str) -> bool:
    """Signed or temporary URLs ("Use permanent URLs") break once Carslink re-fetches."""
    try:
        query = urlsplit(url).query
    except ValueError:
        return False
    return any(k.lower() in _SIGNED_QUERY_KEYS for k, _ in parse_qsl(query))


def clean_dealer(dealer: dict[str, Any]) -> tuple[dict[str, Any], list[str]]:
    """The profile fields worth storing, and warnings for the ones that were not.

    Only ``partner_dealer_id`` is required (checked by the caller). A malformed recommended
    field is dropped with a warning: it must not cost the dealer its whole stock.
    """
    profile: dict[str, Any] = {}
    warnings: list[str] = []
    for name in ("name", "address", "address_line_1", "address_line_2", "town", "county"):
        value = dealer.get(name)
        if value is None:
            continue
        if isinstance(value, str) and value.strip():
            profile[name] = value.strip()
        else:
            warnings.append(f"{name} must be a non-empty string; ignored")
    if dealer.get("phone") is not None:
        phone = dealer["phone"]
        if isinstance(phone, str) and _UK_PHONE_RE.match(re.sub(r"[\s()\-]", "", phone)):
            profile["phone"] = phone.strip()
        else:
            warnings.append("phone must be a UK phone number; ignored")
    if dealer.get("postcode") is not None:
        postcode = normalise_postcode(dealer["postcode"]) if isinstance(dealer["postcode"], str) else None
        if postcode:
            profile["postcode"] = postcode
        else:
            warnings.append("postcode must be a UK postcode; ignored")
    if dealer.get("email") is not None:
        email = dealer["email"]
        if isinstance(email, str) and _EMAIL_RE.match(email.strip()):
            profile["email"] = email.strip()
        else:
            warnings.append("email must be a valid email address; ignored")
    if dealer.get("website") is not None:
        if is_https_url(dealer["website"]):
            profile["website"] = dealer["website"].strip()
        else:
            warnings.append("website must be an HTTPS URL; ignored")
    for name in OVERRIDDEN_FIELDS:
        if name in dealer:
            warnings.append(f"{name} is resolved from the postcode; the value sent was ignored")
    return profile, warnings


def _text(item: dict[str, Any], name: str, *, required: bool = False) -> str | None:
    value = item.get(name)
    if value is None or (isinstance(value, str) and not value.strip()):
        if required:
            raise Skip(f"{name} is required")
        return None
    if isinstance(value, bool) or not isinstance(value, (str, int, float)):
        raise Skip(f"{name} must be a string")
    return str(value).strip()


def _integer(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and math.isfinite(value) and value.is_integer():
        return int(value)
    return None


def identity(item: dict[str, Any]) -> tuple[str, str] | None:
    """How a listing is matched across feeds: source_id, else VIN, else registration."""
    for name in ("source_id", "vin", "registration"):
        value = item.get(name)
        if isinstance(value, bool) or value is None:
            continue
        if isinstance(value, (int, str)) and str(value).strip():
            text = str(value).strip()
            return name, normalise_vrm(text) if name != "source_id" else text
    return None


def clean_listing(item: dict[str, Any], *, allow_http_images: bool, current_year: int) -> dict[str, Any]:
    """A complete listing → the stored record. Raises :class:`Skip` with the partner-facing reason."""
    out: dict[str, Any] = {}
    raw_type = item.get("vehicle_type")
    if raw_type is None:
        vehicle_type = "car"
    elif isinstance(raw_type, str) and raw_type.strip().lower() in (*VEHICLE_TYPES, *VEHICLE_TYPE_ALIASES):
        key = raw_type.strip().lower()
        vehicle_type = VEHICLE_TYPE_ALIASES.get(key, key)
    else:
        raise Skip("vehicle_type must be one of: car, motorcycle, van (motorbike accepted)")
    out["vehicle_type"] = vehicle_type

    out["make"] = _text(item, "make", required=True)
    out["model"] = _text(item, "model", required=True)

    year = _integer(item.get("year"))
    if item.get("year") is None:
        raise Skip("year is required")
    if year is None or not 1000 <= year <= 9999:
        raise Skip("year must be a 4-digit integer")
    if not FIRST_YEAR <= year <= current_year + 1:
        raise Skip(f"year must be between {FIRST_YEAR} and {current_year + 1}")
    out["year"] = year

    price = item.get("price")
    if price is None:
        raise Skip("price is required")
    if isinstance(price, bool) or not isinstance(price, (int, float)) or not math.isfinite(price) or price <= 0:
        raise Skip("price must be numeric and > 0")
    out["price"] = int(price) if float(price).is_integer() else round(float(price), 2)

    if item.get("mileage") is None:
        raise Skip("mileage is required")
    mileage = _integer(item.get("mileage"))
    if mileage is None or mileage < 0:
        raise Skip("mileage must be an integer, zero or greater")
    out["mileage"] = mileage

    registration = _text(item, "registration", required=True)
    vrm = normalise_vrm(registration or "")
    if not _VRM_RE.match(vrm):
        raise Skip("registration must be a UK Vehicle Registration Mark (VRM)")
    out["registration"] = vrm

    out["images"] = _clean_images(item.get("images"), allow_http=allow_http_images)

    if vehicle_type in ("car", "van") and not _text(item, "body_type"):
        raise Skip(f"body_type is required for {'cars' if vehicle_type == 'car' else 'vans'}")

    # "Validated for format if provided": a recommended field that is sent must be right.
    transmission = _text(item, "transmission")
    if transmission is not None:
        canonical = {t.lower(): t for t in TRANSMISSIONS}.get(transmission.lower().replace(" ", "-"))
        if canonical is None:
            raise Skip("transmission must be one of: Manual, Automatic, Semi-Automatic, CVT")
        out["transmission"] = canonical
    listing_url = item.get("listing_url")
    if listing_url is not None:
        if not is_https_url(listing_url):
            raise Skip("listing_url must be an HTTPS URL")
        out["listing_url"] = listing_url.strip()
    vin = _text(item, "vin")
    if vin is not None:
        vin = vin.upper()
        if not _VIN_RE.match(vin):
            raise Skip("vin must be 17 characters without I, O or Q")
        out["vin"] = vin
    licence = _text(item, "licence_category")
    if licence is not None:
        if licence.upper() not in LICENCE_CATEGORIES:
            raise Skip("licence_category must be one of: A, A1, A2, AM")
        out["licence_category"] = licence.upper()

    for name in TEXT_FIELDS:
        if name not in out:
            value = _text(item, name)
            if value is not None:
                out[name] = value
    fuel = _text(item, "fuel_type") or out.pop("fuel", None)
    out.pop("fuel", None)
    if fuel:
        out["fuel"] = fuel
    for name in NUMBER_FIELDS:
        value = item.get(name)
        if value is None:
            continue
        if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
            raise Skip(f"{name} must be a number, zero or greater")
        out[name] = value
    source_id = item.get("source_id")
    if isinstance(source_id, (str, int)) and not isinstance(source_id, bool) and str(source_id).strip():
        out["source_id"] = str(source_id).strip()
    return out


def _clean_images(value: Any, *, allow_http: bool) -> list[str]:
    if not isinstance(value, list):
        if value is None:
            raise Skip(f"minimum {MIN_IMAGES} image URLs required (received 0)")
        raise Skip("images must be an array of HTTPS URLs")
    usable = [u.strip() for u in value if (is_http_url(u) if allow_http else is_https_url(u))]
    # The same photo twice is one photo: padding a gallery to 4 must not pass.
    good = list(dict.fromkeys(usable))
    notes = []
    if len(value) > len(usable):
        notes.append(f"{len(value) - len(usable)} non-HTTPS or invalid URL(s) ignored")
    if len(usable) > len(good):
        notes.append(f"{len(usable) - len(good)} duplicate URL(s) ignored")
    if len(good) < MIN_IMAGES:
        suffix = "".join(f"; {note}" for note in notes)
        raise Skip(f"minimum {MIN_IMAGES} image URLs required (received {len(good)}){suffix}")
    return good


def generated_description(record: dict[str, Any]) -> str:
    """Stand-in for Carslink's AI description: deterministic, so tests can assert it."""
    parts = [str(record.get("year", "")), record.get("make", ""), record.get("model", ""), record.get("variant", "")]
    head = " ".join(p for p in parts if p)
    details = ", ".join(
        p for p in (record.get("fuel"), record.get("transmission"), record.get("colour")) if isinstance(p, str)
    )
    miles = f"{record['mileage']:,} miles" if isinstance(record.get("mileage"), int) else ""
    body = "; ".join(p for p in (details, miles) if p)
    return f"{head}. {body}." if body else f"{head}."
