"""Canonical vehicle → one element of Auterio's ``vehicles`` array (seed 004's field table).

==================  =====================================  ==================================
Auterio             canonical                              note
==================  =====================================  ==================================
``vin``             ``vin``                                required; the upsert key
``brand/model``     ``make`` / ``model``                   required by Auterio
``version``         ``trim``
``matricula``       ``registration``
``year``            ``year``
``fecha_matricula`` ``first_registration``                 YYYY-MM-DD only
``categoria``       ``category``, else ``body_type``
``location``        ``location``, else option ``location``
``notes``           ``description``
``color_ext/int``   ``exterior_color`` / ``interior_color``
``fuel_type``       ``fuel_type``                          Spanish or English (option)
``gearbox``         ``transmission``                       Spanish or English (option)
``mileage``         ``kilometers``                         km, as Auterio counts
``engine_cc``       ``engine_cc``
``power_hp``        ``horsepower``
``doors/seats``     ``doors`` / ``seats``
``sale_price``      ``price``
``cost_price``      ``cost_price``                         only with ``send_cost_price``
``status``          see ``STATUS``                         removed → ``baja``
==================  =====================================  ==================================

Absent values are omitted, never sent as ``null``: on Auterio ``null`` clears a field, and a
car whose source lost a value should not wipe what the dealer typed into Auterio.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from functools import lru_cache
from typing import Any

from app.connectors.carzle.catalogue import map_enum
from app.listings.statuses import ListingStatus
from app.listings.vehicle import Vehicle

# What the dealer's site says → Auterio's status. ``inactive`` (a listing taken offline) is
# ``baja`` too: Auterio has no "hidden" status, and ``disponible`` would be a lie.
STATUS: dict[str, str] = {
    ListingStatus.ACTIVE: "disponible",
    ListingStatus.RESERVED: "reservado",
    ListingStatus.SOLD: "vendido",
    ListingStatus.COMING_SOON: "transito",
    ListingStatus.INACTIVE: "baja",
    ListingStatus.DELETED: "baja",
}
REMOVED = "baja"

# The seed's example writes "gasolina" / "automático"; its table says "gasoline, diesel…".
# Spanish is the default (Auterio is a Spanish DMS, and its example is a real request);
# ``language = "en"`` sends the table's English words instead.
FUEL: dict[str, dict[str, str]] = {
    "es": {"petrol": "gasolina", "diesel": "diésel", "electric": "eléctrico", "hybrid": "híbrido",
           "plug_in_hybrid": "híbrido"},
    "en": {"petrol": "gasoline", "diesel": "diesel", "electric": "electric", "hybrid": "hybrid",
           "plug_in_hybrid": "hybrid"},
}
GEARBOX: dict[str, dict[str, str]] = {
    "es": {"manual": "manual", "automatic": "automático", "semi_automatic": "automático", "cvt": "automático"},
    "en": {"manual": "manual", "automatic": "automatic", "semi_automatic": "automatic", "cvt": "automatic"},
}
LANGUAGES = ("es", "en")
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}")



def _plain(v: Vehicle) -> dict[str, Any]:
    """The fields copied as they are (Auterio key: canonical value)."""
    return {
        "brand": v.make, "model": v.model, "version": v.trim, "matricula": v.registration, "year": v.year,
        "color_ext": v.exterior_color, "color_int": v.interior_color, "mileage": v.kilometers,
        "engine_cc": v.engine_cc, "power_hp": v.horsepower, "doors": v.doors, "seats": v.seats,
        "sale_price": v.price, "notes": v.description,
    }


# A dealer's stock repeats a handful of spellings; matching one through the synonym table is
# ~15 µs, so a resync of thousands of cars asks once per spelling.
@lru_cache(maxsize=1024)
def fuel(raw: str | None, language: str = "es") -> str | None:
    """A canonical fuel word in Auterio's vocabulary; unknown text goes as the dealer wrote it."""
    return _enum("fuelType", raw, FUEL[language])


@lru_cache(maxsize=1024)
def gearbox(raw: str | None, language: str = "es") -> str | None:
    return _enum("transmission", raw, GEARBOX[language])


def _enum(field_name: str, raw: str | None, table: Mapping[str, str]) -> str | None:
    if not raw or not str(raw).strip():
        return None
    concept = map_enum(field_name, str(raw), None)  # the shared synonym table (Carzle's)
    return table.get(concept or "", str(raw).strip())


def vehicle_payload(vehicle: Vehicle, options: Mapping[str, Any]) -> dict[str, Any]:
    """One car as Auterio's ``vehicles[]`` element (status from ``vehicle.status``)."""
    language = str(options.get("language") or "es")
    body: dict[str, Any] = {"vin": (vehicle.vin or "").strip().upper()}
    body.update((key, value) for key, value in _plain(vehicle).items() if value not in (None, ""))
    if fuel_value := fuel(vehicle.fuel_type, language):
        body["fuel_type"] = fuel_value
    if gear := gearbox(vehicle.transmission, language):
        body["gearbox"] = gear
    if vehicle.first_registration and _DATE.match(vehicle.first_registration):
        body["fecha_matricula"] = vehicle.first_registration[:10]
    if category := vehicle.category or vehicle.body_type:
        body["categoria"] = category
    if location := vehicle.location or options.get("location"):
        body["location"] = str(location)
    # Auterio is the dealer's own stock system: the one place a purchase price may go, and
    # only when the dealer says so.
    if options.get("send_cost_price") is True and vehicle.cost_price is not None:
        body["cost_price"] = vehicle.cost_price
    body["status"] = STATUS.get(vehicle.status or "", "disponible")
    return body


def removal_payload(vehicle: Vehicle) -> dict[str, Any]:
    """A removed car: only what Auterio needs to find it (brand and model are required)."""
    return {"vin": (vehicle.vin or "").strip().upper(), "brand": vehicle.make, "model": vehicle.model,
            "status": REMOVED}


def missing_required(vehicle: Vehicle | None) -> dict[str, str]:
    """The seed's required fields a car lacks (the preflight's reasons)."""
    if vehicle is None:
        return {"vin": "required by Auterio"}
    problems = {}
    if not (vehicle.vin or "").strip():
        problems["vin"] = "required by Auterio (its upsert key)"
    if not (vehicle.make or "").strip():
        problems["brand"] = "required by Auterio"
    if not (vehicle.model or "").strip():
        problems["model"] = "required by Auterio"
    return problems


def validate_options(options: Mapping[str, Any]) -> dict[str, str]:
    problems: dict[str, str] = {}
    if options.get("language", "es") not in LANGUAGES:
        problems["language"] = f"must be one of: {', '.join(LANGUAGES)}"
    if not isinstance(options.get("send_cost_price", False), bool):
        problems["send_cost_price"] = "must be true or false"
    budget = options.get("bisect_max_requests", 1)
    if isinstance(budget, bool) or not isinstance(budget, int) or budget < 0:
        problems["bisect_max_requests"] = "must be a whole number, 0 or more"
    location = options.get("location")
    if location is not None and not isinstance(location, str):
        problems["location"] = "must be a string"
    return problems
