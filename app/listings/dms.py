"""DMS records (Auterio, Carslink-shaped feeds) → canonical :class:`Vehicle`.

Each system is a table of ``(canonical field, item keys tried in order, parser)``
run through the same parsers as the WordPress presets. Only keys named in a table
are ever read, which is how dealer-confidential data stays inside Forecourt:
Auterio's ``cost_price`` (and ``supplier``, ``propiedad``) are in no table, so no
code path can copy them into a Vehicle, a warning or an error message.

Enum-ish values ("gasolina", "automático", "Negro") are kept as the dealer wrote
them; each marketplace connector maps free text to its own enums.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from app.listings.parsing import ParseError, is_blank
from app.listings.presets import MappingResult, apply_parser, compose_title, is_no_value, iso_utc
from app.listings.status import decide_dms_status
from app.listings.vehicle import Vehicle

__all__ = ["AUTERIO_FIELDS", "CARSLINK_FIELDS", "vehicle_from_auterio", "vehicle_from_carslink"]

FieldTable = tuple[tuple[str, tuple[str, ...], str], ...]

AUTERIO_FIELDS: FieldTable = (
    ("make", ("brand",), "text"),
    ("model", ("model",), "text"),
    ("trim", ("version",), "text"),
    ("year", ("year",), "year"),
    ("exterior_color", ("color_ext",), "text"),
    ("interior_color", ("color_int",), "text"),
    ("fuel_type", ("fuel_type",), "text"),
    ("transmission", ("gearbox",), "text"),
    ("kilometers", ("mileage",), "distance_km"),
    ("engine_cc", ("engine_cc",), "engine_cc"),
    ("horsepower", ("power_hp",), "horsepower"),
    ("doors", ("doors",), "int"),
    ("seats", ("seats",), "int"),
    # sale_price only. cost_price is the dealer's purchase price: never mapped.
    ("price", ("sale_price",), "money"),
    ("registration", ("matricula",), "text"),
    ("description", ("notes",), "html"),
    ("first_registration", ("fecha_matricula",), "text"),  # already an ISO date (the schema)
    ("category", ("categoria",), "text"),
    # Not in Auterio's documented schema; used when a feed adds photo URLs.
    ("images", ("images",), "images"),
)

CARSLINK_FIELDS: FieldTable = (
    ("make", ("make",), "text"),
    ("model", ("model",), "text"),
    ("trim", ("variant",), "text"),
    ("year", ("year",), "year"),
    ("price", ("price",), "money"),
    # UK feeds: a bare mileage is miles. A value carrying "km" is honoured as km.
    ("kilometers", ("mileage",), "distance_mi"),
    ("exterior_color", ("colour", "color"), "text"),
    ("fuel_type", ("fuel", "fuel_type"), "text"),
    ("transmission", ("transmission",), "text"),
    ("body_type", ("body_type",), "text"),
    ("condition", ("condition",), "condition"),
    ("registration", ("registration",), "text"),
    ("engine_cc", ("engine_size",), "engine_cc"),
    ("doors", ("doors",), "int"),
    ("seats", ("seats",), "int"),
    ("description", ("description",), "html"),
    ("images", ("images",), "images"),
    ("listing_url", ("listing_url",), "text"),
    ("vehicle_type", ("vehicle_type",), "vehicle_type"),
    ("bike_type", ("bike_type",), "text"),
    ("licence_category", ("licence_category",), "text"),
    ("van_type", ("van_type",), "text"),
    ("roof_height", ("roof_height",), "text"),
    ("load_length", ("load_length",), "text"),
    ("payload_kg", ("payload_kg",), "text"),
    ("load_volume_m3", ("load_volume_m3",), "text"),
)


def _map_table(
    item: Mapping[str, Any], table: FieldTable, current_year: int | None
) -> tuple[dict[str, Any], dict[str, str], list[str]]:
    values: dict[str, Any] = {}
    errors: dict[str, str] = {}
    warnings: list[str] = []
    for name, keys, parser in table:
        for key in keys:
            raw = item.get(key)
            if is_blank(raw):
                continue
            try:
                value, parse_warnings = apply_parser(parser, raw, field=name, current_year=current_year)
            except ParseError as exc:
                errors[name] = str(exc)
                break
            if is_no_value(parser, value):
                continue
            values[name] = value
            warnings.extend(parse_warnings)
            break
    return values, errors, warnings


def _vin_and_ref(item: Mapping[str, Any], errors: dict[str, str], warnings: list[str]) -> tuple[str | None, str]:
    """(validated VIN or None, VIN-derived ref). A malformed VIN still yields a ref:
    the DMS keys the record by what it holds, typos included, and so must we."""
    raw = item.get("vin")
    if is_blank(raw):
        return None, ""
    try:
        vin, vin_warnings = apply_parser("vin", raw, field="vin")
    except ParseError as exc:
        errors["vin"] = str(exc)
        return None, re.sub(r"[\s\-]+", "", str(raw)).upper()
    warnings.extend(vin_warnings)
    return vin, vin or ""


def _currency(item: Mapping[str, Any], default: str, warnings: list[str]) -> str:
    raw = item.get("currency")
    if isinstance(raw, str) and re.fullmatch(r"[A-Za-z]{3}", raw.strip()):
        return raw.strip().upper()
    if not is_blank(raw):
        warnings.append(f"currency: {raw!r} is not an ISO 4217 code; assuming {default}")
    return default


def _build(
    item: Mapping[str, Any],
    *,
    system: str,
    table: FieldTable,
    status_value: Any,
    ref_keys: tuple[str, ...],
    default_currency: str,
    current_year: int | None,
) -> MappingResult:
    if not isinstance(item, Mapping):
        raise TypeError(f"{system} item must be a mapping, not {type(item).__name__}")
    values, errors, warnings = _map_table(item, table, current_year)
    vin, vin_ref = _vin_and_ref(item, errors, warnings)
    if vin:
        values["vin"] = vin

    car_ref = ""
    for key in ref_keys:
        if key == "vin":
            car_ref = vin_ref
        elif not is_blank(item.get(key)):
            car_ref = str(item[key]).strip()
        if car_ref:
            break
    if not car_ref:
        errors["car_ref"] = f"car_ref: {system} record has no {' or '.join(ref_keys)}"

    try:
        status: str | None = decide_dms_status(system, status_value)  # type: ignore[arg-type]
    except ParseError as exc:
        errors["status"] = str(exc)
        status = None  # unknown state: send nothing rather than guess "on sale"

    title = compose_title(values.get("year"), values.get("make"), values.get("model"), values.get("trim"))
    if title:
        values["title"] = title
    values["currency"] = _currency(item, default_currency, warnings)

    vehicle = Vehicle(
        source="dms",
        car_ref=car_ref,
        status=status,
        modified_at=iso_utc(item.get("updated_at")),
        warnings=list(warnings),
        **values,
    )
    return MappingResult(vehicle=vehicle, errors=errors, warnings=warnings, flag_status=None)


def vehicle_from_auterio(item: Mapping[str, Any], *, current_year: int | None = None) -> MappingResult:
    """One element of Auterio's ``vehicles`` array → Vehicle (``status`` already decided).

    ``car_ref`` is the VIN (Auterio's own key). Prices are taken to be EUR (Auterio is a
    Spanish DMS) unless the item carries a ``currency``.
    """
    return _build(
        item,
        system="auterio",
        table=AUTERIO_FIELDS,
        status_value=item.get("status") if isinstance(item, Mapping) else None,
        ref_keys=("vin",),
        default_currency="EUR",
        current_year=current_year,
    )


def vehicle_from_carslink(item: Mapping[str, Any], *, current_year: int | None = None) -> MappingResult:
    """One element of a Carslink-shaped ``listings`` array → Vehicle.

    ``car_ref`` is ``source_id`` (what partial updates and ``delete: true`` are keyed by),
    else the VIN. Mileage is miles (UK), converted to km. Prices are GBP unless the item
    carries a ``currency``. A partial update maps only the keys it carries; the rest stay None.
    """
    return _build(
        item,
        system="carslink",
        table=CARSLINK_FIELDS,
        status_value=item.get("delete") if isinstance(item, Mapping) else None,
        ref_keys=("source_id", "vin"),
        default_currency="GBP",
        current_year=current_year,
    )
