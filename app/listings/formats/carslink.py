"""Carslink's partner feed format (``mode``, ``dealer``, ``listings[]``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from marshmallow import (
    EXCLUDE,
    Schema,
    ValidationError,
    fields,
    validates_schema,
)

from app.listings.formats.common import CARSLINK_MAX_LISTINGS, Amount, Choice, Text, WholeNumber, _is_http_url, _reason
from app.listings.formats.feeds import (
    FeedLoad,
    _check_batch,
    _dedupe_last_wins,
    _DmsRequestSchema,
    _identity_hint,
    _load_all,
)


class CarslinkDealerSchema(Schema):
    """Carslink's ``dealer`` object. Only ``partner_dealer_id`` is required (as Carslink
    says); the profile fields are kept as strings without format checks, because a typo in a
    dealer's phone number must not reject the whole stock feed."""

    class Meta:
        unknown = EXCLUDE

    partner_dealer_id = Text(required=True, blank_ok=False, max_length=255)
    name = Text(allow_none=True, max_length=300)
    address_line_1 = Text(allow_none=True, max_length=300)
    address_line_2 = Text(allow_none=True, max_length=300)
    town = Text(allow_none=True, max_length=200)
    county = Text(allow_none=True, max_length=200)
    postcode = Text(allow_none=True, upper=True, max_length=16)
    phone = Text(allow_none=True, max_length=64)
    email = Text(allow_none=True, max_length=320)
    website = Text(allow_none=True, max_length=2048)


class CarslinkRequestSchema(_DmsRequestSchema):
    mode = Choice(
        ("full_replace", "partial"),
        required=True,
        error_messages={"required": "mode is required (full_replace or partial)"},
    )
    dealer = fields.Nested(
        CarslinkDealerSchema,
        required=True,
        error_messages={"required": "dealer is required", "null": "dealer is required"},
    )
    listings = fields.Raw(required=True, allow_none=True, error_messages={"required": "listings is required"})


_VEHICLE_TYPE_ALIASES = {"motorbike": "motorcycle", "bike": "motorcycle"}


class CarslinkListingSchema(Schema):
    """One listing of a Carslink-format feed, received by Forecourt.

    Carslink (as a marketplace) skips listings without year, price, mileage, registration and
    four HTTPS images. Forecourt is the receiving end of a DMS feed and republishes to several
    marketplaces with their own rules, so it requires only what makes the record a car it can
    track: an identity (``source_id``, else ``vin``), ``make`` and ``model``. Values that *are*
    sent must be valid: a garbled price or year skips the listing with Carslink's wording
    rather than publishing a wrong fact. ``images`` are kept as given (order, count, http or
    https); only entries that are not http(s) URLs are dropped, with a warning. ``fuel`` and
    ``fuel_type`` are aliases (``fuel_type`` wins); ``vehicle_type`` is car, motorcycle
    ("motorbike" accepted) or van, default car. ``location``/``region`` are ignored, as
    Carslink says they are derived from the dealer's postcode.

    In ``partial`` mode make and model may be left out, as in Carslink's own example (source_id
    + price only): the fields sent are merged into the car Forecourt already has.
    """

    class Meta:
        unknown = EXCLUDE

    source_id = Text(allow_none=True, max_length=255)
    vin = Text(allow_none=True, upper=True, max_length=64)
    vehicle_type = Choice(
        ("car", "motorcycle", "van"),
        aliases=_VEHICLE_TYPE_ALIASES,
        allow_none=True,
        load_default="car",
    )
    make = Text(required=True, blank_ok=False, max_length=100)
    model = Text(required=True, blank_ok=False, max_length=200)
    variant = Text(allow_none=True, max_length=300)
    year = WholeNumber(allow_none=True, min_value=1886, max_value=2100, error="year must be a 4-digit integer")
    price = Amount(allow_none=True, gt=0, error="price must be numeric and > 0")
    mileage = WholeNumber(
        allow_none=True,
        min_value=0,
        max_value=10_000_000,
        error="mileage must be an integer, zero or greater",
    )
    registration = Text(allow_none=True, upper=True, max_length=32)
    fuel = Text(allow_none=True, max_length=100)
    fuel_type = Text(allow_none=True, max_length=100)
    transmission = Text(allow_none=True, max_length=100)
    colour = Text(allow_none=True, max_length=100)
    body_type = Text(allow_none=True, max_length=100)
    condition = Text(allow_none=True, max_length=100)
    description = Text(allow_none=True, max_length=100_000)
    listing_url = fields.Raw(allow_none=True)
    images = fields.Raw(allow_none=True)
    engine_size = Text(allow_none=True, max_length=32)
    bike_type = Text(allow_none=True, max_length=100)
    licence_category = Text(allow_none=True, upper=True, max_length=8)
    van_type = Text(allow_none=True, max_length=100)
    roof_height = Text(allow_none=True, max_length=32)
    load_length = Text(allow_none=True, max_length=32)
    payload_kg = Text(allow_none=True, max_length=32)
    load_volume_m3 = Text(allow_none=True, max_length=32)

    @validates_schema
    def _check_identity(self, data: dict[str, Any], **kwargs: Any) -> None:
        if not data.get("source_id") and not data.get("vin"):
            raise ValidationError("source_id (or vin) is required to identify the listing", field_name="source_id")


class CarslinkDeleteSchema(Schema):
    """A ``"delete": true`` listing: only the identity matters."""

    class Meta:
        unknown = EXCLUDE

    source_id = Text(allow_none=True, max_length=255)
    vin = Text(allow_none=True, upper=True, max_length=64)

    @validates_schema
    def _check_identity(self, data: dict[str, Any], **kwargs: Any) -> None:
        if not data.get("source_id") and not data.get("vin"):
            raise ValidationError("source_id is required to delete a listing", field_name="source_id")


_CARSLINK_REQUEST = CarslinkRequestSchema()
_CARSLINK_LISTING = CarslinkListingSchema()
_CARSLINK_DELETE = CarslinkDeleteSchema()


_FLAG_WORDS = ("true", "1", "yes", "false", "0", "no", "")


def _delete_flag(value: Any) -> bool | None:
    """True/False for a recognisable flag, None for garbage."""
    if value is None or isinstance(value, bool):
        return bool(value)
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    if isinstance(value, str) and value.strip().lower() in _FLAG_WORDS:
        return value.strip().lower() in ("true", "1", "yes")
    return None


def _clean_images(value: Any, warnings: list[str]) -> list[str]:
    if value is None or value is False:
        return []
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list):
        warnings.append("images must be an array of URLs; ignored")
        return []
    images: list[str] = []
    for position, entry in enumerate(value):
        url = entry.get("url") if isinstance(entry, Mapping) else entry
        if isinstance(url, str) and len(url) <= 4096 and _is_http_url(url.strip()):
            images.append(url.strip())
        else:
            warnings.append(f"images[{position}] is not an http(s) URL; dropped")
    return images


def _clean_listing(listing: dict[str, Any]) -> dict[str, Any]:
    warnings: list[str] = []
    listing["images"] = _clean_images(listing.get("images"), warnings)
    url = listing.get("listing_url")
    if url is not None and url is not False and url != "":
        if not (isinstance(url, str) and len(url) <= 4096 and _is_http_url(url.strip())):
            warnings.append("listing_url is not an http(s) URL; dropped")
            url = None
        else:
            url = url.strip()
    listing["listing_url"] = url or None
    listing["fuel_type"] = listing.get("fuel_type") or listing.pop("fuel", None)
    listing.pop("fuel", None)
    listing["vehicle_type"] = listing.get("vehicle_type") or "car"
    listing["source_id"] = listing.get("source_id") or listing.get("vin")
    listing["warnings"] = warnings
    return listing


def load_carslink_feed(data: Any) -> FeedLoad:
    """Load a feed in Carslink's partner format: ``{mode, dealer, listings[]}``.

    Request-level requirements (raise ValidationError): an object; ``mode`` full_replace or
    partial, required because defaulting either way is a guess and full_replace removes
    stock; ``dealer.partner_dealer_id``; ``listings`` a non-empty array of at most
    ``CARSLINK_MAX_LISTINGS``. An empty full_replace would mean "remove everything", which a
    DMS bug produces far more often than a dealer selling out; sold cars go as deletes.

    Each listing is then validated alone (see ``CarslinkListingSchema``). The identity is
    ``source_id``, falling back to the VIN, for upserts and deletes alike; a listing with
    ``"delete": true`` needs only that identity and lands in ``deletes``. When one identity
    appears more than once, the last entry wins and earlier ones are reported as skipped.
    """
    request = _CARSLINK_REQUEST.load(data)
    items = _check_batch(request["listings"], "listings", CARSLINK_MAX_LISTINGS, "listing")
    dealer = {name: request["dealer"].get(name) for name in CarslinkDealerSchema().load_fields}

    entries: list[tuple[int, str, str, dict[str, Any] | None]] = []
    skipped: list[dict[str, Any]] = []
    for index, item in enumerate(items):
        if not isinstance(item, Mapping):
            skipped.append({"index": index, "source_id": None, "reason": "listing must be an object"})
            continue
        hint = _identity_hint(item, "source_id", "vin")
        flag = _delete_flag(item.get("delete"))
        if flag is None:
            skipped.append({"index": index, "source_id": hint, "reason": "delete must be true or false"})
            continue
        try:
            if flag:
                ident = _CARSLINK_DELETE.load(item)
                entries.append((index, ident.get("source_id") or ident["vin"], "delete", None))
                continue
            patch = ("make", "model") if request["mode"] == "partial" else ()
            listing = _clean_listing(_load_all(_CARSLINK_LISTING, item, patch))
        except ValidationError as err:
            skipped.append({"index": index, "source_id": hint, "reason": _reason(err)})
            continue
        entries.append((index, listing["source_id"], "upsert", listing))

    kept, superseded = _dedupe_last_wins(entries, "source_id")
    skipped = sorted(skipped + superseded, key=lambda s: s["index"])
    return FeedLoad(
        format="carslink",
        mode=request["mode"],
        dealer=dealer,
        accepted=[record for _, _, kind, record in kept if kind == "upsert" and record],
        skipped=skipped,
        deletes=[identity for _, identity, kind, _ in kept if kind == "delete"],
        received=len(items),
    )


