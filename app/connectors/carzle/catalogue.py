"""Carzle's reference data: the ``GET /metadata`` catalogue (enums, makes/models, feature
tags, field schema), the free-text synonyms mapped onto its enums, and a per-process cache of
the parsed catalogue."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from app.connectors.features import CATEGORIES, normalize

# Free text -> Carzle concept. The metadata's own spelling always wins: a value is first
# matched case- and accent-insensitively against the enum, and only then through this table,
# whose concepts are themselves matched against the enum (so "Gasoline" finds "Petrol",
# "petrol" or "PETROL", whichever Carzle uses).
SYNONYMS: dict[str, dict[str, tuple[str, ...]]] = {
    "transmission": {
        "automatic": ("automatic", "auto", "automatico", "automatique", "automatik", "at",
                      "automatic transmission", "steptronic"),
        "manual": ("manual", "manuel", "manuell", "mt", "stick", "standard", "manual transmission"),
        "semi_automatic": ("semi automatic", "semi auto", "automated manual", "dct", "dsg",
                           "dual clutch", "amt"),
        "cvt": ("cvt", "continuously variable", "e cvt"),
    },
    "fuelType": {
        "petrol": ("petrol", "gasoline", "gasolina", "gas", "benzin", "benzine", "essence",
                   "unleaded", "super"),
        "diesel": ("diesel", "gasoleo", "gasoil", "gas oil", "tdi", "dci"),
        "electric": ("electric", "ev", "bev", "electrico", "electrique", "elektro",
                     "battery electric"),
        "hybrid": ("hybrid", "hibrido", "hybride", "hev", "petrol hybrid", "diesel hybrid",
                   "self charging hybrid", "full hybrid", "mild hybrid", "mhev"),
        "plug_in_hybrid": ("plug in hybrid", "phev", "plug in"),
        "lpg": ("lpg", "autogas"),
        "cng": ("cng", "natural gas"),
        "hydrogen": ("hydrogen", "fcev", "fuel cell"),
    },
    "bodyType": {
        "sedan": ("sedan", "saloon", "berline", "berlina", "limousine"),
        "hatchback": ("hatchback", "hatch", "liftback", "3 door hatch", "5 door hatch"),
        "wagon": ("wagon", "estate", "station wagon", "touring", "avant", "break", "kombi",
                  "sports tourer", "shooting brake"),
        "suv": ("suv", "4x4", "4 x 4", "sport utility", "sports utility vehicle", "crossover",
                "off road", "offroader", "jeep"),
        "coupe": ("coupe", "coupé", "fastback"),
        "convertible": ("convertible", "cabriolet", "cabrio", "roadster", "spyder", "spider",
                        "drophead", "targa"),
        "pickup": ("pickup", "pick up", "truck", "pickup truck", "ute", "double cab",
                   "crew cab", "single cab"),
        "van": ("van", "panel van", "minibus", "bus", "cargo van"),
        "minivan": ("minivan", "mpv", "people carrier", "multi purpose vehicle"),
    },
    "regionalSpecs": {
        "gcc": ("gcc", "gcc specs", "gcc spec", "gulf", "gulf specs"),
        "american": ("american", "us", "usa", "us specs", "american specs", "north american"),
        "european": ("european", "euro", "eu", "europe", "european specs", "euro specs"),
        "japanese": ("japanese", "japan", "jdm", "japanese specs"),
        "canadian": ("canadian", "canada", "canadian specs"),
        "korean": ("korean", "korea", "korean specs"),
        "chinese": ("chinese", "china", "chinese specs"),
        "other": ("other", "others"),
    },
}

# Human names for warnings.
FIELD_LABELS = {
    "transmission": "transmission",
    "fuelType": "fuel type",
    "bodyType": "body type",
    "regionalSpecs": "regional specs",
}

# Keys Carzle may use in GET /metadata for each enum; the first one present wins.
_ENUM_KEYS: dict[str, tuple[str, ...]] = {
    "status": ("status", "statuses", "listingStatus", "listingStatuses"),
    "transmission": ("transmission", "transmissions"),
    "fuelType": ("fuelType", "fuelTypes", "fuel_type", "fuel"),
    "bodyType": ("bodyType", "bodyTypes", "body_type", "body"),
    "regionalSpecs": ("regionalSpecs", "regionalSpec", "regional_specs", "specs"),
    "featureCategories": ("featureCategories", "featureCategory", "feature_categories"),
}


def _enum_value(item: Any) -> tuple[str, tuple[str, ...]] | None:
    """An enum entry as (value to send, other spellings to match it by)."""
    if isinstance(item, str):
        return item, ()
    if isinstance(item, Mapping):
        value = item.get("value") or item.get("id") or item.get("slug") or item.get("name")
        if value is None:
            return None
        aliases = tuple(
            str(item[k]) for k in ("label", "name", "title") if isinstance(item.get(k), str)
        )
        return str(value), aliases
    return None


@dataclass
class CarzleMetadata:
    """The parts of ``GET /metadata`` the connector uses, parsed tolerantly."""

    enums: dict[str, list[str]]
    aliases: dict[str, dict[str, str]]  # field -> normalised spelling -> enum value
    makes: dict[str, tuple[str, dict[str, str]]]  # compact make -> (make, compact model -> model)
    features: dict[str, str]  # normalised feature name -> category
    fields: dict[str, dict[str, Any]] = dataclasses.field(default_factory=dict)  # name -> schema
    limits: dict[str, Any] = dataclasses.field(default_factory=dict)

    @classmethod
    def parse(cls, raw: Any) -> CarzleMetadata:
        data = raw.get("data", raw) if isinstance(raw, Mapping) else {}
        data = data if isinstance(data, Mapping) else {}
        enum_source = data.get("enums") if isinstance(data.get("enums"), Mapping) else data
        enums: dict[str, list[str]] = {}
        aliases: dict[str, dict[str, str]] = {}
        for field_name, keys in _ENUM_KEYS.items():
            items = next(
                (enum_source[k] for k in keys if isinstance(enum_source.get(k), list)), None
            )
            if items is None:
                continue
            values: list[str] = []
            spelling: dict[str, str] = {}
            for item in items:
                parsed = _enum_value(item)
                if parsed is None:
                    continue
                value, extra = parsed
                values.append(value)
                for text in (value, *extra):
                    spelling.setdefault(normalize(text), value)
            enums[field_name] = values
            aliases[field_name] = spelling
        raw_fields = data.get("fields")
        schema = (
            {str(k): dict(v) for k, v in raw_fields.items() if isinstance(v, Mapping)}
            if isinstance(raw_fields, Mapping)
            else {}
        )
        limits = dict(data["limits"]) if isinstance(data.get("limits"), Mapping) else {}
        return cls(enums, aliases, _parse_makes(data), _parse_features(data), schema, limits)

    def allowed(self, field_name: str) -> list[str] | None:
        return self.enums.get(field_name)

    def limit(self, name: str) -> int | None:
        value = self.limits.get(name)
        return value if isinstance(value, int) and not isinstance(value, bool) else None


def compact(text: str) -> str:
    """Catalog key: "F-150" == "F150", "Land Cruiser" == "Landcruiser", "C-Class" == "C Class"."""
    return normalize(text).replace(" ", "")


# Common dealer spellings of makes whose catalog name differs by more than punctuation.
MAKE_ALIASES: dict[str, str] = {
    "mercedes": "Mercedes-Benz",
    "merc": "Mercedes-Benz",
    "mb": "Mercedes-Benz",
    "vw": "Volkswagen",
    "chevy": "Chevrolet",
    "landrover": "Land Rover",
    "rangerover": "Land Rover",
    "rollsroyce": "Rolls-Royce",
    "lambo": "Lamborghini",
}


def _parse_makes(data: Mapping[str, Any]) -> dict[str, tuple[str, dict[str, str]]]:
    raw = data.get("makes") or data.get("makesModels") or data.get("catalog") or []
    makes: dict[str, tuple[str, dict[str, str]]] = {}
    entries: Iterable[tuple[Any, Any]]
    if isinstance(raw, Mapping):
        entries = raw.items()
    elif isinstance(raw, list):
        entries = (
            (e.get("name") or e.get("make"), e.get("models")) if isinstance(e, Mapping) else (e, [])
            for e in raw
        )
    else:
        entries = ()
    for make, models in entries:
        if not isinstance(make, str) or not make.strip():
            continue
        names: dict[str, str] = {}
        for model in models or []:
            name = model.get("name") if isinstance(model, Mapping) else model
            if isinstance(name, str) and name.strip():
                names[compact(name)] = name
        makes[compact(make)] = (make, names)
    return makes


def _parse_features(data: Mapping[str, Any]) -> dict[str, str]:
    raw = data.get("features") or data.get("featureTags") or []
    catalog: dict[str, str] = {}
    if isinstance(raw, Mapping):  # {"safety": ["ABS", ...], ...}
        for category, names in raw.items():
            if str(category).lower() in CATEGORIES and isinstance(names, list):
                for name in names:
                    label = name.get("name") if isinstance(name, Mapping) else name
                    if isinstance(label, str):
                        catalog[normalize(label)] = str(category).lower()
    elif isinstance(raw, list):  # [{"name": ..., "category": ...}]
        for entry in raw:
            if isinstance(entry, Mapping) and isinstance(entry.get("name"), str):
                category = str(entry.get("category") or "").lower()
                if category in CATEGORIES:
                    catalog[normalize(entry["name"])] = category
    return catalog


def map_enum(field_name: str, raw: str, allowed: Sequence[str] | None,
             aliases: Mapping[str, str] | None = None) -> str | None:
    """Map free text onto one of ``allowed`` (or a synonym concept when no allowlist is known).

    Order: exact (normalised) match on the enum and its labels; the synonym group the text
    belongs to; the longest synonym contained as whole words ("8-speed Automatic").
    Returns None when nothing fits.
    """
    text = normalize(raw)
    if not text:
        return None
    spellings = dict(aliases or {})
    for value in allowed or ():
        spellings.setdefault(normalize(value), value)
    if allowed is not None and text in spellings:
        return spellings[text]
    groups = SYNONYMS.get(field_name, {})
    concept = _concept_for(text, groups)
    if concept is None:
        return None
    if allowed is None:
        return concept
    for word in (concept, *groups[concept]):
        hit = spellings.get(normalize(word))
        if hit is not None:
            return hit
    return None


def _concept_for(text: str, groups: Mapping[str, tuple[str, ...]]) -> str | None:
    for concept, words in groups.items():
        if text == normalize(concept) or text in {normalize(w) for w in words}:
            return concept
    best: tuple[int, str] | None = None
    padded = f" {text} "
    for concept, words in groups.items():
        for word in (concept, *words):
            norm = normalize(word)
            if norm and f" {norm} " in padded and (best is None or len(norm) > best[0]):
                best = (len(norm), concept)
    return best[1] if best else None


# Decoding and parsing the catalogue was ~3 ms of every push; a worker keeps the parsed copy
# for a minute (the shared cache still decides when Carzle is asked).
PARSED_METADATA_SECONDS = 60.0
PARSED_METADATA: dict[str, tuple[float, CarzleMetadata]] = {}


def forget_parsed_metadata() -> None:
    """Drop the per-process parsed catalogues (tests that reset the marketplace use it)."""
    PARSED_METADATA.clear()


def schema_problem(value: Any, schema: Mapping[str, Any]) -> str | None:
    """Why ``value`` breaks one field's schema from ``GET /metadata`` (None if it doesn't)."""
    if isinstance(value, str):
        max_len = schema.get("maxLength")
        if isinstance(max_len, int) and len(value) > max_len:
            return f"is longer than Carzle's {max_len} characters"
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    low, high = schema.get("minimum"), schema.get("maximum")
    low_x, high_x = schema.get("exclusiveMinimum"), schema.get("exclusiveMaximum")
    if _is_num(low) and value < low:
        return f"must be at least {low:g}"
    if _is_num(high) and value > high:
        return f"must be at most {high:g}"
    if _is_num(low_x) and value <= low_x:
        return f"must be greater than {low_x:g}"
    if _is_num(high_x) and value >= high_x:
        return f"must be less than {high_x:g}"
    return None


def _is_num(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)
