"""Carzle's reference data: scopes, enum vocabularies, limits, the make/model catalogue, the
feature tags and the vehicle spec table behind create-time enrichment (``lookup_vehicle_spec``).

Everything here is published by ``GET /metadata`` (see ``schema``); nothing here holds state.
"""

from __future__ import annotations

from typing import Any

SCOPES = ("listings:read", "listings:write", "listings:delete")
STATUSES = ("active", "inactive", "sold", "coming_soon", "reserved", "draft")
TRANSMISSIONS = ("automatic", "manual")
FUEL_TYPES = ("petrol", "diesel", "hybrid", "plug_in_hybrid", "electric")
BODY_TYPES = ("sedan", "suv", "hatchback", "coupe", "convertible", "pickup", "van", "wagon", "crossover", "minivan")
# Spelled as the docs write them ("GCC / American / European"), unlike the snake_case enums.
REGIONAL_SPECS = ("GCC", "American", "European", "Japanese", "Korean", "Chinese", "Canadian", "Other")
FEATURE_CATEGORIES = ("safety", "entertainment", "comfort", "exterior")

# Status given to a listing POSTed without one; the quick-start example publishes directly.
DEFAULT_STATUS = "active"
PRICE_LIMIT = 50_000_000  # exclusive upper bound, per the documented error message
EXTERNAL_REF_MAX = 255
MAX_IMAGES = 50
MAX_FEATURES = 100
MAX_MEGAPIXELS = 40_000_000
YEAR_MIN = 1900
CDN_BASE = "https://cdn.carzle.sandbox"
METADATA_VERSION = "2026-01-15"

CATALOG: dict[str, list[str]] = {
    "Audi": ["A4", "A6", "A8", "Q5", "Q7", "Q8", "RS6"],
    "BMW": ["3 Series", "5 Series", "7 Series", "X5", "X6", "X7", "M3", "M5"],
    "Bentley": ["Bentayga", "Continental GT"],
    "Chevrolet": ["Camaro", "Corvette", "Silverado", "Suburban", "Tahoe"],
    "Dodge": ["Challenger", "Charger", "Durango"],
    "Ferrari": ["296 GTB", "Purosangue", "Roma"],
    "Ford": ["Bronco", "Expedition", "Explorer", "F-150", "Mustang", "Ranger"],
    "GMC": ["Sierra", "Yukon"],
    "Honda": ["Accord", "CR-V", "Civic", "Odyssey", "Pilot"],
    "Hyundai": ["Elantra", "Palisade", "Santa Fe", "Sonata", "Tucson"],
    "Infiniti": ["Q50", "QX60", "QX80"],
    "Jeep": ["Gladiator", "Grand Cherokee", "Wrangler"],
    "Kia": ["Carnival", "K5", "Sorento", "Sportage", "Telluride"],
    "Lamborghini": ["Huracan", "Revuelto", "Urus"],
    "Land Rover": ["Defender", "Discovery", "Range Rover", "Range Rover Sport"],
    "Lexus": ["ES", "GX", "IS", "LS", "LX", "RX"],
    "Mazda": ["CX-5", "CX-9", "Mazda3", "Mazda6"],
    "Mercedes-Benz": ["AMG GT", "C-Class", "E-Class", "G-Class", "GLE", "GLS", "S-Class"],
    "Mitsubishi": ["L200", "Outlander", "Pajero"],
    "Nissan": ["Altima", "GT-R", "Kicks", "Pathfinder", "Patrol", "Sunny", "X-Trail"],
    "Porsche": ["911", "Cayenne", "Macan", "Panamera", "Taycan"],
    "Rolls-Royce": ["Cullinan", "Ghost", "Phantom"],
    "Tesla": ["Model 3", "Model S", "Model X", "Model Y"],
    "Toyota": ["Camry", "Corolla", "Fortuner", "Hilux", "Land Cruiser", "Prado", "RAV4", "Supra", "Yaris"],
    "Volkswagen": ["Golf", "Jetta", "Passat", "Tiguan", "Touareg"],
}
_CATALOG_INDEX = {make.lower(): (make, {m.lower(): m for m in models}) for make, models in CATALOG.items()}

FEATURE_TAGS: list[dict[str, str]] = [
    {"name": "Adaptive cruise control", "category": "safety"},
    {"name": "Blind spot monitoring", "category": "safety"},
    {"name": "Lane keep assist", "category": "safety"},
    {"name": "360 camera", "category": "safety"},
    {"name": "Parking sensors", "category": "safety"},
    {"name": "Airbags", "category": "safety"},
    {"name": "Apple CarPlay", "category": "entertainment"},
    {"name": "Android Auto", "category": "entertainment"},
    {"name": "Navigation system", "category": "entertainment"},
    {"name": "Premium sound system", "category": "entertainment"},
    {"name": "Rear seat entertainment", "category": "entertainment"},
    {"name": "Panoramic sunroof", "category": "comfort"},
    {"name": "Leather seats", "category": "comfort"},
    {"name": "Heated seats", "category": "comfort"},
    {"name": "Ventilated seats", "category": "comfort"},
    {"name": "Keyless entry", "category": "comfort"},
    {"name": "Alloy wheels", "category": "exterior"},
    {"name": "LED headlights", "category": "exterior"},
    {"name": "Roof rails", "category": "exterior"},
    {"name": "Tow hitch", "category": "exterior"},
]


def _spec(
    engine: str | None,
    hp: str,
    cyl: str | None,
    top: str,
    accel: str,
    body: str,
    fuel: str,
    trans: str,
    doors: int,
    seats: int,
) -> dict[str, Any]:
    out: dict[str, Any] = {
        "engineCapacity": engine,
        "horsepower": hp,
        "cylinders": cyl,
        "topSpeed": top,
        "acceleration0to100": accel,
        "bodyType": body,
        "fuelType": fuel,
        "transmission": trans,
        "doors": doors,
        "seating": seats,
    }
    # An EV has no displacement or cylinders: leave them unset rather than invent values.
    return {k: v for k, v in out.items() if v is not None}


# Keyed by lower-cased (make, model, trim); trim None is the trimless fallback row.
VEHICLE_SPECS: dict[tuple[str, str, str | None], dict[str, Any]] = {
    ("toyota", "land cruiser", "gr sport"): _spec(
        "3.5L", "409 HP", "6", "210 km/h", "6.7s", "suv", "petrol", "automatic", 5, 5
    ),
    ("toyota", "land cruiser", None): _spec(
        "4.0L", "271 HP", "6", "175 km/h", "10.1s", "suv", "petrol", "automatic", 5, 8
    ),
    ("bmw", "3 series", "320d"): _spec("2.0L", "190 HP", "4", "240 km/h", "6.8s", "sedan", "diesel", "automatic", 4, 5),
    ("bmw", "3 series", "330i"): _spec("2.0L", "258 HP", "4", "250 km/h", "5.8s", "sedan", "petrol", "automatic", 4, 5),
    ("bmw", "3 series", None): _spec("2.0L", "184 HP", "4", "235 km/h", "7.1s", "sedan", "petrol", "automatic", 4, 5),
    ("volkswagen", "golf", "gti"): _spec(
        "2.0L", "245 HP", "4", "250 km/h", "6.2s", "hatchback", "petrol", "automatic", 5, 5
    ),
    ("volkswagen", "golf", None): _spec(
        "1.4L", "150 HP", "4", "216 km/h", "8.5s", "hatchback", "petrol", "automatic", 5, 5
    ),
    ("honda", "accord", None): _spec("1.5L", "192 HP", "4", "200 km/h", "8.0s", "sedan", "petrol", "automatic", 4, 5),
    ("nissan", "patrol", None): _spec("5.6L", "400 HP", "8", "210 km/h", "7.6s", "suv", "petrol", "automatic", 5, 8),
    ("tesla", "model 3", None): _spec(None, "283 HP", None, "225 km/h", "6.1s", "sedan", "electric", "automatic", 4, 5),
}


def _norm(text: str) -> str:
    return " ".join(text.lower().split())


def lookup_vehicle_spec(make: str | None, model: str | None, trim: str | None) -> dict[str, Any] | None:
    """Trim-level row if there is one, else the trimless row, else ``None``."""
    if not make or not model:
        return None
    mk, md = _norm(make), _norm(model)
    if trim:
        row = VEHICLE_SPECS.get((mk, md, _norm(trim)))
        if row is not None:
            return dict(row)
    row = VEHICLE_SPECS.get((mk, md, None))
    return dict(row) if row is not None else None
