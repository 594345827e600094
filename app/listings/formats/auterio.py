"""Auterio's ingest format (``vehicles[]``, upsert by VIN).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from marshmallow import (
    EXCLUDE,
    Schema,
    ValidationError,
    fields,
)

from app.listings.formats.common import (
    AUTERIO_MAX_VEHICLES,
    AUTERIO_STATUSES,
    Amount,
    Choice,
    IsoDate,
    Text,
    WholeNumber,
    _reason,
)
from app.listings.formats.feeds import (
    FeedLoad,
    _check_batch,
    _dedupe_last_wins,
    _DmsRequestSchema,
    _identity_hint,
    _load_all,
)


class AuterioVehicleSchema(Schema):
    """One vehicle of Auterio's ``/api/vehicles/ingest`` body.

    vin, brand and model are required. The VIN is upper-cased and stripped (it is the upsert
    key, so "wvw..." and "WVW..." must be the same car) but its length is not checked: Spanish
    DMSs carry chassis numbers of pre-1981 cars that are not 17 characters. Unknown keys are
    dropped; the documented ones are typed.
    """

    class Meta:
        unknown = EXCLUDE

    vin = Text(required=True, blank_ok=False, upper=True, max_length=64)
    brand = Text(required=True, blank_ok=False, max_length=100)
    model = Text(required=True, blank_ok=False, max_length=200)
    matricula = Text(allow_none=True, upper=True, max_length=32)
    version = Text(allow_none=True, max_length=300)
    year = WholeNumber(allow_none=True, min_value=1886, max_value=2100)
    color_ext = Text(allow_none=True, max_length=100)
    color_int = Text(allow_none=True, max_length=100)
    fuel_type = Text(allow_none=True, max_length=100)
    gearbox = Text(allow_none=True, max_length=100)
    mileage = WholeNumber(allow_none=True, min_value=0, max_value=10_000_000)
    engine_cc = WholeNumber(allow_none=True, min_value=0, max_value=100_000)
    power_hp = WholeNumber(allow_none=True, min_value=0, max_value=10_000)
    doors = WholeNumber(allow_none=True, min_value=0, max_value=10)
    seats = WholeNumber(allow_none=True, min_value=0, max_value=100)
    cost_price = Amount(allow_none=True, ge=0)
    sale_price = Amount(allow_none=True, ge=0)
    status = Choice(AUTERIO_STATUSES, allow_none=True, load_default="disponible")
    location = Text(allow_none=True, max_length=300)
    supplier = Text(allow_none=True, max_length=300)
    fecha_matricula = IsoDate(allow_none=True)
    propiedad = Text(allow_none=True, max_length=300)
    categoria = Text(allow_none=True, max_length=100)
    notes = Text(allow_none=True, max_length=20_000)


class AuterioRequestSchema(_DmsRequestSchema):
    vehicles = fields.Raw(required=True, allow_none=True, error_messages={"required": "vehicles is required"})


_AUTERIO_VEHICLE = AuterioVehicleSchema()
_AUTERIO_REQUEST = AuterioRequestSchema()


def load_auterio(data: Any) -> FeedLoad:
    """Load an Auterio ingest body (``{"vehicles": [...]}``, 1 to 1000 vehicles).

    Auterio upserts by VIN, so the mode is always ``partial`` and nothing is deleted (a sold
    car arrives as status ``vendido``/``baja``). A missing or null ``status`` becomes
    ``disponible``, as Auterio documents. Invalid vehicles are skipped with a reason; the
    request fails only when it is not an object or ``vehicles`` is missing, not a list, empty
    or longer than 1000.
    """
    request = _AUTERIO_REQUEST.load(data)
    items = _check_batch(request["vehicles"], "vehicles", AUTERIO_MAX_VEHICLES, "vehicle")

    entries: list[tuple[int, str, str, dict[str, Any] | None]] = []
    skipped: list[dict[str, Any]] = []
    for index, item in enumerate(items):
        if not isinstance(item, Mapping):
            skipped.append({"index": index, "vin": None, "reason": "vehicle must be an object"})
            continue
        try:
            vehicle = _load_all(_AUTERIO_VEHICLE, item)
        except ValidationError as err:
            skipped.append({"index": index, "vin": _identity_hint(item, "vin"), "reason": _reason(err)})
            continue
        if vehicle["status"] is None:
            vehicle["status"] = "disponible"
        entries.append((index, vehicle["vin"], "upsert", vehicle))

    kept, superseded = _dedupe_last_wins(entries, "vin")
    skipped = sorted(skipped + superseded, key=lambda s: s["index"])
    return FeedLoad(
        format="auterio",
        mode="partial",
        dealer=None,
        accepted=[record for _, _, _, record in kept if record is not None],
        skipped=skipped,
        deletes=[],
        received=len(items),
    )


# Carslink ------------------------------------------------------------------------------------


