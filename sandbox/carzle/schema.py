"""The listing payload: the field table (``FIELDS``, whose order is the order of keys in
listing responses), value validation against it, and the ``GET /metadata`` document that
publishes it together with the reference data.

``_SchemaMixin`` is one part of :class:`~sandbox.carzle.sandbox.CarzleSandbox`; it uses the
host's ``settings``, ``_lock`` and ``_contacts`` (a ``contactId`` must name a contact of the
listing's showroom).
"""

from __future__ import annotations

import math
import threading
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from sandbox.carzle.images import _is_http_url
from sandbox.carzle.reference import (
    _CATALOG_INDEX,
    BODY_TYPES,
    CATALOG,
    EXTERNAL_REF_MAX,
    FEATURE_CATEGORIES,
    FEATURE_TAGS,
    FUEL_TYPES,
    MAX_FEATURES,
    MAX_IMAGES,
    MAX_MEGAPIXELS,
    METADATA_VERSION,
    PRICE_LIMIT,
    REGIONAL_SPECS,
    STATUSES,
    TRANSMISSIONS,
    YEAR_MIN,
    _norm,
)
from sandbox.common import SandboxSettings

if TYPE_CHECKING:
    from sandbox.carzle.records import Contact


@dataclass(frozen=True)
class _Field:
    kind: str  # str | enum | int | number | bool | features | images | contact
    required: bool = False
    enum: tuple[str, ...] = ()
    max_len: int | None = None
    minimum: float | None = None
    maximum: float | None = None


def _current_year_max() -> int:
    # Next year's models go on sale during this year.
    return datetime.now(UTC).year + 1


# Order here is the order of keys in listing responses.
FIELDS: dict[str, _Field] = {
    "externalRef": _Field("str", max_len=EXTERNAL_REF_MAX),
    "status": _Field("enum", enum=STATUSES),
    "make": _Field("str", required=True, max_len=100),
    "model": _Field("str", required=True, max_len=100),
    "year": _Field("int", required=True, minimum=YEAR_MIN),  # maximum computed per call
    "trim": _Field("str", max_len=100),
    "title": _Field("str", required=True, max_len=200),
    "description": _Field("str", max_len=20_000),
    "price": _Field("number", required=True),
    "kilometers": _Field("int", required=True, minimum=0, maximum=2_000_000),
    "chassisNumber": _Field("str", max_len=50),
    "transmission": _Field("enum", enum=TRANSMISSIONS),
    "fuelType": _Field("enum", enum=FUEL_TYPES),
    "bodyType": _Field("enum", enum=BODY_TYPES),
    "regionalSpecs": _Field("enum", enum=REGIONAL_SPECS),
    "exteriorColor": _Field("str", max_len=50),
    "interiorColor": _Field("str", max_len=50),
    "doors": _Field("int", minimum=1, maximum=10),
    "seating": _Field("int", minimum=1, maximum=60),
    "horsepower": _Field("str", max_len=50),
    "cylinders": _Field("str", max_len=50),
    "engineCapacity": _Field("str", max_len=50),
    "topSpeed": _Field("str", max_len=50),
    "acceleration0to100": _Field("str", max_len=50),
    "warranty": _Field("str", max_len=500),
    "serviceHistory": _Field("str", max_len=500),
    "accidentHistory": _Field("str", max_len=500),
    "financeAvailable": _Field("bool"),
    "hasCleanTitle": _Field("bool"),
    "isFirstOwner": _Field("bool"),
    "hasFullServiceHistory": _Field("bool"),
    "isAccidentFree": _Field("bool"),
    "features": _Field("features"),
    "imageUrls": _Field("images"),
    "contactId": _Field("contact"),
}
REQUIRED_FIELDS = tuple(name for name, f in FIELDS.items() if f.required)
READ_ONLY_FIELDS = ("id", "createdAt", "updatedAt", "deletedAt")
ENRICHABLE_FIELDS = (
    "engineCapacity",
    "horsepower",
    "cylinders",
    "topSpeed",
    "acceleration0to100",
    "bodyType",
    "fuelType",
    "transmission",
    "doors",
    "seating",
)

_TYPE_MESSAGES = {
    "str": "must be a string",
    "enum": "must be a string",
    "int": "must be an integer",
    "number": "must be a number",
    "bool": "must be a boolean",
    "features": "must be an array",
    "images": "must be an array",
    "contact": "must be a string or null",
}


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _field_descriptor(name: str, f: _Field) -> dict[str, Any]:
    kind = {"str": "string", "enum": "string", "contact": "uuid", "features": "array", "images": "array"}
    out: dict[str, Any] = {"type": kind.get(f.kind, {"int": "integer"}.get(f.kind, f.kind)), "required": f.required}
    if f.enum:
        out["enum"] = list(f.enum)
    if f.max_len is not None:
        out["maxLength"] = f.max_len
    if f.minimum is not None:
        out["minimum"] = f.minimum
    if f.maximum is not None:
        out["maximum"] = f.maximum
    if name == "year":
        out["maximum"] = _current_year_max()
    if name == "price":
        out["exclusiveMinimum"] = 0
        out["exclusiveMaximum"] = PRICE_LIMIT
    if name == "contactId":
        out["nullable"] = True
    return out


# What a field check returns for a rejected value (its error is already recorded).
_INVALID = object()


class _SchemaMixin:
    """Payload validation (``_validate`` and its helpers) and the ``/metadata`` document."""

    settings: SandboxSettings
    _lock: threading.RLock
    _contacts: dict[str, Contact]

    def _validate(
        self, payload: dict[str, Any], *, showroom_id: str, existing: dict[str, Any] | None, dashboard: bool = False
    ) -> tuple[dict[str, Any], dict[str, str], list[tuple[int, str, bool]] | None]:
        """Return (clean fields, field errors, image entries or None if imageUrls not sent).

        ``existing`` is the listing's current data on PATCH (None on create).
        """
        errors: dict[str, str] = {}
        clean: dict[str, Any] = {}
        entries: list[tuple[int, str, bool]] | None = None
        for name, value in payload.items():
            spec = FIELDS.get(name)
            if spec is None:
                if name in READ_ONLY_FIELDS:
                    errors[name] = "is read-only"
                elif self.settings.reject_unknown_fields:
                    errors[name] = "unknown field"
                continue
            if value is None:
                if spec.kind == "contact":
                    clean[name] = None
                else:
                    errors[name] = "must not be null"
                continue
            if spec.kind == "images":
                entries = self._validate_images(value, errors)
                continue
            result = self._validate_value(name, spec, value, errors, showroom_id, dashboard=dashboard)
            if result is not _INVALID:
                clean[name] = result
        if existing is None:
            for name in REQUIRED_FIELDS:
                if name not in payload:
                    errors[name] = "is required"
        if self.settings.validate_make_model:
            self._validate_catalog(clean, errors, existing)
        return clean, errors, entries

    def _validate_value(
        self, name: str, spec: _Field, value: Any, errors: dict[str, str], showroom_id: str, *, dashboard: bool
    ) -> Any:
        kind = spec.kind
        if kind in ("str", "enum", "contact"):
            if not isinstance(value, str):
                errors[name] = _TYPE_MESSAGES[kind]
                return _INVALID
            if kind == "enum":
                if value not in spec.enum:
                    errors[name] = "must be one of: " + ", ".join(spec.enum)
                    return _INVALID
                return value
            if not value.strip():
                # Dashboard-created listings legitimately carry an empty externalRef.
                if dashboard and name == "externalRef":
                    return ""
                errors[name] = "must not be empty"
                return _INVALID
            if kind == "contact":
                with self._lock:
                    contact = self._contacts.get(value)
                    if contact is None or contact.showroom_id != showroom_id:
                        errors[name] = "contact not found in this showroom"
                        return _INVALID
                return value
            if spec.max_len is not None and len(value) > spec.max_len:
                errors[name] = f"must be at most {spec.max_len} characters"
                return _INVALID
            return value
        if kind == "bool":
            if not isinstance(value, bool):
                errors[name] = _TYPE_MESSAGES[kind]
                return _INVALID
            return value
        if kind == "int":
            if not _is_int(value):
                errors[name] = _TYPE_MESSAGES[kind]
                return _INVALID
            lo = spec.minimum
            hi = _current_year_max() if name == "year" else spec.maximum
            if (lo is not None and value < lo) or (hi is not None and value > hi):
                errors[name] = f"must be between {lo:g} and {hi:g}" if hi is not None else f"must be at least {lo:g}"
                return _INVALID
            return value
        if kind == "number":
            if not _is_number(value) or not math.isfinite(value):
                errors[name] = _TYPE_MESSAGES[kind]
                return _INVALID
            if name == "price":
                if value >= PRICE_LIMIT:
                    errors[name] = f"must be less than {PRICE_LIMIT}"
                    return _INVALID
                if value <= 0:
                    errors[name] = "must be greater than 0"
                    return _INVALID
            return value
        if kind == "features":
            return self._validate_features(value, errors)
        raise AssertionError(f"unhandled field kind {kind}")

    @staticmethod
    def _validate_features(value: Any, errors: dict[str, str]) -> Any:
        if not isinstance(value, list):
            errors["features"] = "must be an array"
            return _INVALID
        if len(value) > MAX_FEATURES:
            errors["features"] = f"must contain at most {MAX_FEATURES} items"
            return _INVALID
        out = []
        ok = True
        for i, item in enumerate(value):
            where = f"features.{i}"
            if not isinstance(item, dict):
                errors[where] = "must be an object with name and category"
                ok = False
                continue
            for extra in sorted(set(item) - {"name", "category"}):
                errors[f"{where}.{extra}"] = "unknown field"
                ok = False
            name, category = item.get("name"), item.get("category")
            if "name" not in item:
                errors[f"{where}.name"] = "is required"
                ok = False
            elif not isinstance(name, str):
                errors[f"{where}.name"] = "must be a string"
                ok = False
            elif not name.strip():
                errors[f"{where}.name"] = "must not be empty"
                ok = False
            elif len(name) > 100:
                errors[f"{where}.name"] = "must be at most 100 characters"
                ok = False
            if "category" not in item:
                errors[f"{where}.category"] = "is required"
                ok = False
            elif category not in FEATURE_CATEGORIES:
                errors[f"{where}.category"] = "must be one of: " + ", ".join(FEATURE_CATEGORIES)
                ok = False
            if ok:
                out.append({"name": name, "category": category})
        return out if ok else _INVALID

    @staticmethod
    def _validate_images(value: Any, errors: dict[str, str]) -> list[tuple[int, str, bool]]:
        """Shape checks only; source policy (HTTPS, private hosts) is applied when fetching."""
        if not isinstance(value, list):
            errors["imageUrls"] = "must be an array"
            return []
        if len(value) > MAX_IMAGES:
            errors["imageUrls"] = f"must contain at most {MAX_IMAGES} items"
            return []
        entries: list[tuple[int, str, bool]] = []
        heroes = 0
        for i, item in enumerate(value):
            where = f"imageUrls.{i}"
            if not isinstance(item, dict):
                errors[where] = "must be an object with url and optional isHero"
                continue
            bad = False
            for extra in sorted(set(item) - {"url", "isHero"}):
                errors[f"{where}.{extra}"] = "unknown field"
                bad = True
            url = item.get("url")
            if "url" not in item:
                errors[f"{where}.url"] = "is required"
                bad = True
            elif not isinstance(url, str):
                errors[f"{where}.url"] = "must be a string"
                bad = True
            elif not url.strip():
                errors[f"{where}.url"] = "must not be empty"
                bad = True
            elif not _is_http_url(url):
                errors[f"{where}.url"] = "must be an absolute http(s) URL"
                bad = True
            hero = item.get("isHero", False)
            if not isinstance(hero, bool):
                errors[f"{where}.isHero"] = "must be a boolean"
                bad = True
            elif hero:
                heroes += 1
            if not bad:
                entries.append((i, url, hero))
        if heroes > 1:
            errors["imageUrls"] = "at most one image may have isHero: true"
        return entries

    @staticmethod
    def _validate_catalog(clean: dict[str, Any], errors: dict[str, str], existing: dict[str, Any] | None) -> None:
        if "make" not in clean and "model" not in clean:
            return
        if "make" in errors or "model" in errors:
            return
        base = existing or {}
        make = clean.get("make", base.get("make"))
        model = clean.get("model", base.get("model"))
        if make is None or model is None:
            return  # required-field errors already cover this on create
        entry = _CATALOG_INDEX.get(_norm(make))
        if entry is None:
            errors["make"] = "unknown make; see GET /metadata for the catalog"
            return
        canon_make, models = entry
        canon_model = models.get(_norm(model))
        if canon_model is None:
            where = "model" if "model" in clean else "make"
            errors[where] = f"{model!r} is not a known model of {canon_make}; see GET /metadata"
            return
        # Store catalog spelling so filters and enrichment see one form.
        if "make" in clean:
            clean["make"] = canon_make
        if "model" in clean:
            clean["model"] = canon_model

    def metadata(self) -> dict[str, Any]:
        return {
            "version": METADATA_VERSION,
            "enums": {
                "status": list(STATUSES),
                "transmission": list(TRANSMISSIONS),
                "fuelType": list(FUEL_TYPES),
                "bodyType": list(BODY_TYPES),
                "regionalSpecs": list(REGIONAL_SPECS),
                "featureCategory": list(FEATURE_CATEGORIES),
            },
            "makes": [{"name": make, "models": list(models)} for make, models in CATALOG.items()],
            "features": [dict(tag) for tag in FEATURE_TAGS],
            "fields": {name: _field_descriptor(name, f) for name, f in FIELDS.items()},
            "limits": {
                "priceLessThan": PRICE_LIMIT,
                "externalRefMaxLength": EXTERNAL_REF_MAX,
                "imageUrlsMax": MAX_IMAGES,
                "featuresMax": MAX_FEATURES,
                "imageMaxMegapixels": MAX_MEGAPIXELS // 1_000_000,
                "listingsPageMax": 100,
            },
        }
