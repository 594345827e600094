"""Carzle (carzle.ae) Dealer API connector.

Follows Carzle's integration FAQ rule by rule:

* **externalRef**: one scheme per site (``ref_scheme`` option: ``stock_number`` | ``post_id``
  | ``vin``, in the FAQ's order of preference), prefixed so it documents itself
  (``fc_sku_1234``, ``fc_post_881``, ``fc_vin_WBA...``); a car lacking the site's field is a
  FixInput, never a silent switch to another scheme; at most 255 characters; URL-quoted in
  ``/listings/by-ref/{ref}``. (VIN is the last resort: a sold car that comes back under a new
  post would re-activate its old listing.)
* **create vs update**: no remote state -> ``POST /listings``; 409 on that POST (two syncs
  raced) -> ``PATCH /listings/by-ref/{ref}`` with the full payload; known state ->
  ``PATCH /listings/by-ref/{ref}`` with only the fields that changed; same fingerprint -> no
  HTTP call at all; 404 on the PATCH (deleted on Carzle) -> ``POST`` again.
* **enrichment** runs on POST only; a PATCH only ever carries fields the dealer sends, so an
  enriched or dashboard-edited value is never overwritten by a field we lack.
* **required on create** (make, model, year, kilometers, price, title) are checked before any
  request; absent fields are omitted, never sent as ``""`` or ``null`` (except ``contactId:
  null``, Carzle's way to clear a salesperson assignment).
* **reference data**: ``GET /metadata`` and ``GET /contacts`` are fetched at most once per hour
  per API key (shared cache, key hashed); enums are validated locally and free text is mapped
  onto them, unmappable values are omitted with a warning instead of failing the listing.
* **status**: active / inactive / sold / reserved / coming_soon are sent as-is; ``draft`` never
  is (on Carzle it means "never published"): a draft that was live becomes ``inactive``.
* **delete** is by id (``DELETE /listings/{id}``); 404 counts as done.

Options (per destination): ``ref_scheme``, ``ref_prefix`` (default ``fc_``),
``regional_specs`` (e.g. ``"GCC"``), ``contacts`` (salesperson identifier -> contact id or
name), ``default_contact`` (id or name), ``max_images`` (default 40), ``currency`` (default
``AED``; a vehicle priced in another currency is refused rather than listed at a wrong price).
"""

from __future__ import annotations

import dataclasses
import hashlib
import ipaddress
import logging
import math
import re
import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote, urlsplit

from app.connectors.base import (
    Conflict,
    Connector,
    ConnectorError,
    FixInput,
    NotFound,
    RateLimits,
    RemoteState,
    RetryAt,
    RetryLater,
    SyncOutcome,
    diff_payload,
    fingerprint,
    register,
)
from app.connectors.features import CATEGORIES, normalize, structure_features
from app.listings.vehicle import DELETED, LISTING_STATUSES, Vehicle

log = logging.getLogger(__name__)

DEFAULT_BASE_URL = "https://carzle.ae/api/v1"
REF_SCHEMES: dict[str, str] = {"stock_number": "sku", "post_id": "post", "vin": "vin", "source_id": "src"}
DEFAULT_REF_PREFIX = "fc_"
MAX_REF_LENGTH = 255
REQUIRED_ON_CREATE: tuple[str, ...] = ("make", "model", "year", "kilometers", "price", "title")
# The FAQ asks for reference data to be cached for an hour.
REFERENCE_TTL = 3600
# Kept for a day so a Carzle hiccup while refreshing falls back to slightly stale enums instead
# of failing every sync; freshness is still decided by REFERENCE_TTL.
REFERENCE_KEEP = 24 * 3600
REFRESH_RETRY = 300
# Carzle documents no image count limit; 40 covers a full walk-around with interior shots and
# bounds how many fetches one listing makes Carzle do (a single failing image fails the POST).
DEFAULT_MAX_IMAGES = 40
DEFAULT_CURRENCY = "AED"
PAGE_SIZE = 100
MAX_PAGES = 1000  # a paginator that never ends must not loop a worker forever

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
_FIELD_LABELS = {
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


# --------------------------------------------------------------------------- reference data


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


# --------------------------------------------------------------------------- adoption


@dataclass
class AdoptionMatch:
    """A dashboard-created Carzle listing matched to a local car, ready to ``claim``."""

    remote_id: str
    external_ref: str
    car_ref: str
    matched_by: str  # "vin" | "title_year_price"
    remote: dict[str, Any]


# --------------------------------------------------------------------------- connector


def _text(value: Any) -> str | None:
    if value is None:
        return None
    text = str(value).strip()
    return text or None


def _as_int(value: Any, name: str, problems: dict[str, str]) -> int | None:
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if isinstance(value, bool):
        problems[name] = "must be a whole number"
        return None
    try:
        number = float(str(value).replace(",", "").strip()) if isinstance(value, str) else float(value)
    except (TypeError, ValueError):
        problems[name] = f"must be a whole number, got {value!r}"
        return None
    if not math.isfinite(number):
        problems[name] = f"must be a whole number, got {value!r}"
        return None
    return round(number)


def _private_host(host: str) -> bool:
    if host == "localhost" or host.endswith((".localhost", ".local")):
        return True
    try:
        address = ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return False
    return not address.is_global


PARSED_METADATA_SECONDS = 60.0
_PARSED_METADATA: dict[str, tuple[float, CarzleMetadata]] = {}


def forget_parsed_metadata() -> None:
    """Drop the per-process parsed catalogues (tests that reset the marketplace use it)."""
    _PARSED_METADATA.clear()


@register
class CarzleConnector(Connector):
    """Carzle Dealer API (``https://carzle.ae/api/v1``, Bearer API key). See the module doc."""

    slug = "carzle"
    display_name = "Carzle"
    default_base_url = DEFAULT_BASE_URL
    credential_fields = ("api_key",)
    rate_limits = RateLimits(reads=60, writes=30, window=60.0)
    option_names = (
        "ref_scheme", "ref_prefix", "regional_specs", "contacts", "default_contact",
        "max_images", "currency", "allow_insecure_images",
    )

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._metadata: CarzleMetadata | None = None
        self._contacts: list[dict[str, Any]] | None = None

    # ---- configuration ---------------------------------------------------------------------

    @classmethod
    def validate_options(cls, options: Mapping[str, Any]) -> dict[str, str]:
        problems: dict[str, str] = {}
        scheme = options.get("ref_scheme", "stock_number")
        if scheme not in REF_SCHEMES:
            problems["ref_scheme"] = f"must be one of {', '.join(REF_SCHEMES)}"
        if not isinstance(options.get("ref_prefix", DEFAULT_REF_PREFIX), str):
            problems["ref_prefix"] = "must be a string"
        max_images = options.get("max_images", DEFAULT_MAX_IMAGES)
        if isinstance(max_images, bool) or not isinstance(max_images, int) or max_images < 1:
            problems["max_images"] = "must be a positive whole number"
        contacts = options.get("contacts", {})
        if not isinstance(contacts, Mapping):
            problems["contacts"] = "must map salesperson identifiers to contact ids or names"
        for name in ("default_contact", "regional_specs", "currency"):
            if options.get(name) is not None and not isinstance(options[name], str):
                problems[name] = "must be a string"
        return problems

    @property
    def ref_scheme(self) -> str:
        return str(self.options.get("ref_scheme") or "stock_number")

    def auth_headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.credentials['api_key']}"}

    def _cache_key(self, what: str) -> str:
        # Hash, never the key itself: cache keys show up in Redis MONITOR and dumps.
        digest = hashlib.sha256(f"{self.base_url}\0{self.credentials['api_key']}".encode())
        return f"carzle:{what}:{digest.hexdigest()[:32]}"

    # ---- external reference ----------------------------------------------------------------

    def external_ref(self, vehicle: Vehicle) -> str:
        """The site's one externalRef scheme applied to ``vehicle`` (FixInput if it can't be)."""
        scheme = self.ref_scheme
        if scheme == "stock_number":
            value = _text(vehicle.stock_number)
            missing = "stock_number"
        elif scheme == "post_id":
            # For WordPress cars car_ref *is* the post ID, so it is the same scheme.
            value = _text(vehicle.post_id) or (
                _text(vehicle.car_ref) if vehicle.source == "wordpress" else None
            )
            missing = "post_id"
        elif scheme == "source_id":
            # A DMS's own vehicle id (Carslink source_id, Auterio VIN): stable across feeds.
            value = _text(vehicle.car_ref) if vehicle.source == "dms" else None
            missing = "source_id"
        else:
            value = _text(vehicle.vin)
            value = value.upper() if value else None
            missing = "vin"
        if value is None:
            raise FixInput(
                f"This site identifies Carzle listings by {scheme.replace('_', ' ')}, "
                f"and this car has none",
                fields={missing: f"required: the site's Carzle reference scheme is {scheme}"},
            )
        prefix = self.options.get("ref_prefix", DEFAULT_REF_PREFIX)
        ref = f"{prefix}{REF_SCHEMES[scheme]}_{value}"
        if len(ref) > MAX_REF_LENGTH:
            raise FixInput(
                f"Carzle externalRef would be {len(ref)} characters; the limit is {MAX_REF_LENGTH}",
                fields={missing: f"too long for a Carzle reference ({len(ref)} > {MAX_REF_LENGTH})"},
            )
        return ref

    @staticmethod
    def ref_path(ref: str) -> str:
        return "/listings/by-ref/" + quote(ref, safe="")

    # ---- reference data --------------------------------------------------------------------

    def _reference(self, what: str, path: str) -> Any:
        key = self._cache_key(what)
        cached = self.cache.get_json(key)
        now = datetime.now(UTC).timestamp()
        fresh = isinstance(cached, Mapping) and "data" in cached and (
            now - float(cached.get("fetched_at") or 0) < REFERENCE_TTL
        )
        if fresh:
            return cached["data"]
        try:
            data = self.request("read", "GET", path).json()
        except (RetryLater, RetryAt):
            if isinstance(cached, Mapping) and "data" in cached:
                log.warning("Carzle %s refresh failed; using the cached copy", what)
                # Try again in a few minutes, not on every sync while Carzle is struggling.
                retry_from = now - REFERENCE_TTL + REFRESH_RETRY
                self.cache.set_json(key, {"fetched_at": retry_from, "data": cached["data"]},
                                    REFERENCE_KEEP)
                return cached["data"]
            raise
        except ValueError as exc:
            raise RetryLater(f"Carzle {path} returned invalid JSON") from exc
        self.cache.set_json(key, {"fetched_at": now, "data": data}, REFERENCE_KEEP)
        return data

    def metadata(self) -> CarzleMetadata:
        """Enums, makes/models and feature tags (``GET /metadata``, at most hourly per key)."""
        if self._metadata is None:
            # Decoding and parsing the catalogue was ~3 ms of every push; a worker keeps the
            # parsed copy for a minute (the shared cache still decides when Carzle is asked).
            key = self._cache_key("metadata")
            hit = _PARSED_METADATA.get(key)
            if hit is not None and hit[0] > time.monotonic():
                self._metadata = hit[1]
            else:
                self._metadata = CarzleMetadata.parse(self._reference("metadata", "/metadata"))
                _PARSED_METADATA[key] = (time.monotonic() + PARSED_METADATA_SECONDS, self._metadata)
        return self._metadata

    def contacts(self) -> list[dict[str, Any]]:
        """The showroom's salespeople (``GET /contacts``, at most hourly per key)."""
        if self._contacts is None:
            raw = self._reference("contacts", "/contacts")
            items = raw
            if isinstance(raw, Mapping):
                items = raw.get("data") or raw.get("contacts") or raw.get("items") or []
            self._contacts = [c for c in items or [] if isinstance(c, Mapping) and c.get("id")]
        return self._contacts

    # ---- mapping ---------------------------------------------------------------------------

    def build_payload(self, vehicle: Vehicle, *, creating: bool) -> tuple[dict[str, Any], list[str]]:
        """Full Carzle payload for ``vehicle`` (absent fields omitted) and mapping warnings.

        Raises FixInput, before any write, for what Carzle would refuse the whole listing for
        (unknown make/model, out-of-range price, ...); ``creating`` adds the required-field
        check. Optional values Carzle can't take are omitted with a warning instead.
        """
        warnings: list[str] = []
        problems: dict[str, str] = {}
        payload: dict[str, Any] = {"externalRef": self.external_ref(vehicle)}
        meta = self.metadata()

        status = vehicle.status
        allowed_status = meta.allowed("status")
        if status not in LISTING_STATUSES or (allowed_status and status not in allowed_status):
            problems["status"] = f"{status!r} is not a status Forecourt sends to Carzle"
        else:
            payload["status"] = status

        make, model = _text(vehicle.make), _text(vehicle.model)
        if make:
            make, model = self._catalog_names(meta, make, model, problems)
            payload["make"] = make
        if model:
            payload["model"] = model
        for key, value in (
            ("year", vehicle.year),
            ("price", vehicle.price),
            ("kilometers", vehicle.kilometers),
        ):
            number = _as_int(value, key, problems)
            if number is not None:
                payload[key] = number
        for key, value in (
            ("title", vehicle.title),
            ("description", vehicle.description),
            ("trim", vehicle.trim),
            ("exteriorColor", vehicle.exterior_color),
            ("interiorColor", vehicle.interior_color),
        ):
            text = _text(value)
            if text:
                payload[key] = text
        vin = _text(vehicle.vin)
        if vin:
            payload["chassisNumber"] = re.sub(r"\s+", "", vin).upper()

        currency = _text(vehicle.currency)
        expected_currency = str(self.options.get("currency") or DEFAULT_CURRENCY)
        if currency and currency.upper() != expected_currency.upper() and "price" in payload:
            problems["currency"] = (
                f"Carzle prices are in {expected_currency}; this car is priced in {currency}"
            )

        # Spec fields: dealer-sent values win over Carzle's enrichment, so only real data goes.
        optional_problems: dict[str, str] = {}
        hp = _as_int(vehicle.horsepower, "horsepower", optional_problems)
        if hp:
            payload["horsepower"] = f"{hp} HP"
        cc = _as_int(vehicle.engine_cc, "engineCapacity", optional_problems)
        if cc:
            payload["engineCapacity"] = f"{cc / 1000:.1f}L"
        for key, value in (("doors", vehicle.doors), ("seating", vehicle.seats)):
            number = _as_int(value, key, optional_problems)
            if number:
                payload[key] = number
        warnings.extend(f"{key} {msg}; omitted" for key, msg in optional_problems.items())

        for key, raw in (
            ("transmission", vehicle.transmission),
            ("fuelType", vehicle.fuel_type),
            ("bodyType", vehicle.body_type),
            ("regionalSpecs", self.options.get("regional_specs")),
        ):
            text = _text(raw)
            if not text:
                continue
            mapped = map_enum(key, text, meta.allowed(key), meta.aliases.get(key))
            if mapped is None:
                warnings.append(f"{_FIELD_LABELS[key]} {text!r} is not a Carzle value; omitted")
            else:
                payload[key] = mapped

        features = self._features(vehicle, meta, warnings)
        if features:
            payload["features"] = features

        images, image_warnings = self._image_urls(vehicle, meta)
        warnings.extend(image_warnings)
        if images:
            payload["imageUrls"] = images

        contact_id, contact_warnings = self._contact_id(vehicle)
        warnings.extend(contact_warnings)
        if contact_id:
            payload["contactId"] = contact_id

        self._apply_schema(payload, meta, problems, warnings)
        if creating:
            problems.update(self.missing_for_create(payload, problems))
        if problems:
            raise FixInput(
                "The car can't be listed on Carzle until these fields are fixed: "
                + ", ".join(sorted(problems)),
                fields=problems,
            )
        return payload, warnings

    @staticmethod
    def missing_for_create(
        payload: Mapping[str, Any], known: Mapping[str, str] | None = None
    ) -> dict[str, str]:
        """Required-on-create fields absent from ``payload`` (field -> message)."""
        return {
            key: "required by Carzle to create a listing"
            for key in REQUIRED_ON_CREATE
            if key not in payload and key not in (known or {})
        }

    @staticmethod
    def _catalog_names(
        meta: CarzleMetadata, make: str, model: str | None, problems: dict[str, str]
    ) -> tuple[str, str | None]:
        # The FAQ hands out the makes/models catalog "so you can validate on your side before
        # POST-ing"; Carzle's own spelling also makes its enrichment lookup hit.
        if not meta.makes:
            return make, model
        key = compact(make)
        entry = meta.makes.get(key)
        if entry is None and key in MAKE_ALIASES:
            entry = meta.makes.get(compact(MAKE_ALIASES[key]))
        if entry is None:
            problems["make"] = f"{make!r} is not a make in Carzle's catalog"
            return make, model
        canonical_make, models = entry
        if model and models:
            canonical_model = models.get(compact(model))
            if canonical_model is None:
                problems["model"] = f"{model!r} is not a {canonical_make} model in Carzle's catalog"
            else:
                model = canonical_model
        return canonical_make, model

    @staticmethod
    def _features(
        vehicle: Vehicle, meta: CarzleMetadata, warnings: list[str]
    ) -> list[dict[str, str]]:
        features = structure_features(vehicle.features or [], meta.features)
        allowed = meta.allowed("featureCategories")
        by_norm = {normalize(c): c for c in allowed} if allowed else None
        schema = meta.fields.get("features", {})
        name_max = 100  # Carzle's feature-name limit; not in the metadata
        kept: list[dict[str, str]] = []
        for feature in features:
            category = by_norm.get(normalize(feature["category"])) if by_norm else feature["category"]
            if category is None:
                warnings.append(
                    f"feature {feature['name']!r}: category {feature['category']!r} "
                    "is not a Carzle category; omitted"
                )
            elif len(feature["name"]) > name_max:
                warnings.append(f"feature {feature['name'][:40]!r}...: name too long; omitted")
            else:
                kept.append({"name": feature["name"], "category": category})
        cap = meta.limit("featuresMax") or schema.get("maxItems")
        if isinstance(cap, int) and len(kept) > cap:
            warnings.append(f"{len(kept)} features; only the first {cap} are sent to Carzle")
            kept = kept[:cap]
        return kept

    def _apply_schema(
        self,
        payload: dict[str, Any],
        meta: CarzleMetadata,
        problems: dict[str, str],
        warnings: list[str],
    ) -> None:
        """Check the payload against the field schema in ``GET /metadata``.

        Carzle rejects the whole listing for one bad value. A bad required field is a FixInput;
        an optional one is omitted with a warning so the rest of the car still syncs.
        """
        if not meta.fields:
            return
        for key in list(payload):
            schema = meta.fields.get(key)
            value = payload[key]
            if schema is None:
                problem = "is not a Carzle field"
            else:
                problem = _schema_problem(value, schema)
            if problem is None:
                continue
            if key in REQUIRED_ON_CREATE or key in ("externalRef", "status"):
                problems.setdefault(key, problem)
            else:
                warnings.append(f"{key} {value!r} {problem}; omitted")
                del payload[key]

    def _image_urls(
        self, vehicle: Vehicle, meta: CarzleMetadata
    ) -> tuple[list[dict[str, Any]], list[str]]:
        limit = int(self.options.get("max_images", DEFAULT_MAX_IMAGES))
        remote_cap = meta.limit("imageUrlsMax")
        if remote_cap:
            limit = min(limit, remote_cap)
        warnings: list[str] = []
        urls: list[str] = []
        seen: set[str] = set()
        for image in vehicle.images or []:
            url = _text(getattr(image, "url", None) if not isinstance(image, Mapping)
                        else image.get("url"))
            if not url or url in seen:
                continue
            seen.add(url)
            parts = urlsplit(url)
            # Carzle rejects the whole listing when one image fails, so a URL it will refuse
            # is dropped here with a warning instead of blocking the car. The sandbox can be
            # told to fetch from local http hosts; ``allow_insecure_images`` matches it.
            if self.options.get("allow_insecure_images") and parts.scheme.lower() in ("http", "https"):
                urls.append(url)
                continue
            if parts.scheme.lower() != "https" or not parts.hostname:
                warnings.append(f"image {url!r} is not an HTTPS URL; omitted")
                continue
            if _private_host(parts.hostname):
                warnings.append(f"image {url!r} is on a private host Carzle can't fetch; omitted")
                continue
            urls.append(url)
        if len(urls) > limit:
            warnings.append(f"{len(urls)} images; only the first {limit} are sent to Carzle")
            urls = urls[:limit]
        return [
            {"url": url, "isHero": True} if index == 0 else {"url": url}
            for index, url in enumerate(urls)
        ], warnings

    def _contact_id(self, vehicle: Vehicle) -> tuple[str | None, list[str]]:
        """Resolve the salesperson to a Carzle contact id; None means the showroom default."""
        mapping = {
            str(k).strip().casefold(): v for k, v in (self.options.get("contacts") or {}).items()
        }
        salesperson = _text(vehicle.salesperson)
        default = _text(self.options.get("default_contact"))
        if not salesperson and not default:
            return None, []
        warnings: list[str] = []
        if salesperson:
            target = mapping.get(salesperson.casefold())
            contact = self._find_contact(str(target)) if target else self._find_contact(salesperson)
            if contact:
                return contact, warnings
            if target:
                warnings.append(
                    f"salesperson {salesperson!r} maps to {target!r}, which is not a contact "
                    "on this Carzle showroom"
                )
            else:
                warnings.append(f"salesperson {salesperson!r} has no Carzle contact")
        if default:
            contact = self._find_contact(default)
            if contact:
                return contact, warnings
            warnings.append(f"default contact {default!r} is not a contact on this Carzle showroom")
        return None, warnings

    def _find_contact(self, wanted: str) -> str | None:
        wanted_norm = wanted.strip().casefold()
        contacts = self.contacts()
        for contact in contacts:
            if str(contact["id"]).casefold() == wanted_norm:
                return str(contact["id"])
        for key in ("email", "name"):
            for contact in contacts:
                value = contact.get(key)
                if isinstance(value, str) and value.strip().casefold() == wanted_norm:
                    return str(contact["id"])
        return None

    # ---- operations ------------------------------------------------------------------------

    def check_credentials(self) -> dict[str, Any]:
        """``GET /me``: who the key belongs to and its quota; Reauthenticate on 401/403."""
        with self.operation():
            body = self.request("read", "GET", "/me").json()
        return body if isinstance(body, dict) else {"data": body}

    def upsert(
        self,
        vehicle: Vehicle,
        state: RemoteState | None,
        *,
        previous_payload: dict[str, Any] | None = None,
    ) -> SyncOutcome:
        """Create or update the listing for ``vehicle``; see the module docstring for the flow."""
        with self.operation():
            if vehicle.status == DELETED:
                return self._delete(vehicle, state)
            if vehicle.status is None:
                return self.outcome("skip", warnings=["no marketplace status; nothing to send"])
            warnings: list[str] = []
            if vehicle.status == "draft":
                if state is None:
                    return self.outcome(
                        "skip", warnings=["draft cars are not published to Carzle"]
                    )
                # Carzle's "draft" means never published; a car taken offline is "inactive".
                vehicle = dataclasses.replace(vehicle, status="inactive")
                warnings.append("draft sent to Carzle as inactive")

            payload, mapping_warnings = self.build_payload(vehicle, creating=state is None)
            warnings.extend(mapping_warnings)
            digest = fingerprint(payload)
            if state is None:
                return self._create(payload, digest, warnings)

            previous = previous_payload if previous_payload is not None else state.payload
            known_print = state.fingerprint or (fingerprint(previous) if previous else None)
            if digest == known_print:
                return self.outcome(
                    "noop",
                    remote_id=state.remote_id,
                    external_ref=payload["externalRef"],
                    payload=payload,
                    fingerprint=digest,
                    warnings=warnings,
                )
            return self._update(payload, digest, state, previous, warnings)

    def _create(
        self, payload: dict[str, Any], digest: str, warnings: list[str]
    ) -> SyncOutcome:
        missing = self.missing_for_create(payload)
        if missing:
            raise FixInput(
                "Carzle needs these fields to create a listing: " + ", ".join(missing),
                fields=missing,
            )
        ref = payload["externalRef"]
        try:
            response = self.request("write", "POST", "/listings", json_body=payload)
        except Conflict as conflict:
            # Another sync created it first: take it over with the full payload.
            listing = self._patch_full(ref, payload, conflict)
            remote_id = _listing_id(listing) or _text(conflict.details.get("existingId"))
            return self.outcome(
                "update", remote_id=remote_id, external_ref=ref, payload=payload,
                fingerprint=digest, warnings=warnings,
            )
        listing = _listing_of(_json(response))
        return self.outcome(
            "create", remote_id=_listing_id(listing), external_ref=ref, payload=payload,
            fingerprint=digest, warnings=warnings,
        )

    def _patch_full(
        self, ref: str, payload: Mapping[str, Any], conflict: Conflict
    ) -> dict[str, Any]:
        # The ref is the URL; the body carries only the dealer's own fields (never nulls), so
        # whatever Carzle enriched on its POST stays.
        body = {k: v for k, v in payload.items() if k != "externalRef"}
        try:
            response = self.request("write", "PATCH", self.ref_path(ref), json_body=body)
        except NotFound:
            # The 409 was not about our ref (no listing has it): retrying won't help.
            raise conflict from None
        return _listing_of(_json(response))

    def _update(
        self,
        payload: dict[str, Any],
        digest: str,
        state: RemoteState,
        previous: Mapping[str, Any] | None,
        warnings: list[str],
    ) -> SyncOutcome:
        ref = payload["externalRef"]
        # Address the listing by the ref Carzle knows; if the site's ref changed, the diff
        # carries the new externalRef and re-keys it.
        known_ref = state.external_ref or (previous or {}).get("externalRef") or ref
        if previous:
            body = diff_payload(previous, payload)
        else:
            body = {k: v for k, v in payload.items() if k != "externalRef" or known_ref != ref}
        if not body:
            return self.outcome(
                "noop", remote_id=state.remote_id, external_ref=ref, payload=payload,
                fingerprint=digest, warnings=warnings,
            )
        try:
            response = self.request("write", "PATCH", self.ref_path(known_ref), json_body=body)
        except NotFound:
            warnings.append("listing no longer existed on Carzle; created it again")
            return self._create(payload, digest, warnings)
        listing = _listing_of(_json(response))
        return self.outcome(
            "update", remote_id=_listing_id(listing) or state.remote_id, external_ref=ref,
            payload=payload, fingerprint=digest, warnings=warnings,
        )

    def delete(self, vehicle_ref: Vehicle | str | None, state: RemoteState | None) -> SyncOutcome:
        """Soft-delete the listing (by id; looked up by ref when only the ref is known)."""
        with self.operation():
            return self._delete(vehicle_ref, state)

    def _delete(self, vehicle_ref: Vehicle | str | None, state: RemoteState | None) -> SyncOutcome:
        ref = state.external_ref if state and state.external_ref else None
        if ref is None and isinstance(vehicle_ref, str):
            ref = vehicle_ref
        elif ref is None and isinstance(vehicle_ref, Vehicle):
            try:
                ref = self.external_ref(vehicle_ref)
            except FixInput:
                ref = None
        remote_id = state.remote_id if state else None
        if remote_id is None and ref is None:
            return self.outcome("skip", warnings=["never listed on Carzle; nothing to delete"])
        warnings: list[str] = []
        if remote_id is None:
            assert ref is not None  # one of the two is known, checked above
            remote_id = self._id_for_ref(ref)
            if remote_id is None:
                return self.outcome(
                    "delete", external_ref=ref, warnings=["listing was already gone on Carzle"]
                )
        try:
            self.request("write", "DELETE", f"/listings/{quote(remote_id, safe='')}")
        except NotFound:
            # A stale id: if a listing still carries our ref it is this car's and must go too.
            other = self._id_for_ref(ref) if ref else None
            if other is None or other == remote_id:
                warnings.append("listing was already gone on Carzle")
            else:
                remote_id = other
                self.request("write", "DELETE", f"/listings/{quote(other, safe='')}")
        return self.outcome("delete", remote_id=remote_id, external_ref=ref, warnings=warnings)

    def _id_for_ref(self, ref: str) -> str | None:
        try:
            response = self.request("read", "GET", self.ref_path(ref))
        except NotFound:
            return None
        return _listing_id(_listing_of(_json(response)))

    def get_listing(self, remote_id: str | None = None, *, ref: str | None = None) -> dict[str, Any]:
        """One listing by Carzle id or by externalRef (NotFound if it doesn't exist)."""
        with self.operation():
            if remote_id:
                path = f"/listings/{quote(remote_id, safe='')}"
            elif ref:
                path = self.ref_path(ref)
            else:
                raise ValueError("remote_id or ref is required")
            return _listing_of(_json(self.request("read", "GET", path)))

    def list_remote(self, updated_since: datetime | None = None) -> Iterator[dict[str, Any]]:
        """Every listing of the showroom (changed since ``updated_since``), page by page."""
        self.calls = []
        params: dict[str, Any] = {"limit": PAGE_SIZE, "offset": 0}
        if updated_since is not None:
            if updated_since.tzinfo is None:
                updated_since = updated_since.replace(tzinfo=UTC)
            params["updatedSince"] = (
                updated_since.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S") + "Z"
            )
        for _ in range(MAX_PAGES):
            body = _json(self.request("read", "GET", "/listings", params=params))
            items, total, has_more = _page_of(body)
            yield from items
            params["offset"] += len(items)
            if not items or has_more is False or len(items) < params["limit"]:
                return
            if total is not None and params["offset"] >= total:
                return
        log.warning("Carzle listing pagination stopped after %s pages", MAX_PAGES)

    def adopt(
        self,
        local_vehicles: Iterable[Vehicle],
        remote_listings: Iterable[Mapping[str, Any]] | None = None,
    ) -> list[AdoptionMatch]:
        """Match dashboard-created listings (empty externalRef) to local cars.

        VIN (``chassisNumber``) first, then title + year + price. A candidate that matches more
        than one car (or the reverse) is left out: a wrong claim would overwrite another car's
        listing, so ambiguous ones are for a human. Cars whose ref can't be built are skipped.
        """
        listings = list(remote_listings if remote_listings is not None else self.list_remote(None))
        orphans = [dict(r) for r in listings if not _text(r.get("externalRef")) and _listing_id(r)]
        cars: list[tuple[Vehicle, str]] = []
        for vehicle in local_vehicles:
            try:
                cars.append((vehicle, self.external_ref(vehicle)))
            except FixInput:
                continue
        matches: list[AdoptionMatch] = []
        used_remote: set[str] = set()
        used_local: set[str] = set()

        def pair(key_remote: Any, key_local: Any, how: str) -> None:
            remote_index: dict[Any, list[dict[str, Any]]] = {}
            for listing in orphans:
                if _listing_id(listing) in used_remote:
                    continue
                key = key_remote(listing)
                if key is not None:
                    remote_index.setdefault(key, []).append(listing)
            local_index: dict[Any, list[tuple[Vehicle, str]]] = {}
            for vehicle, ref in cars:
                if ref in used_local:
                    continue
                key = key_local(vehicle)
                if key is not None:
                    local_index.setdefault(key, []).append((vehicle, ref))
            for key, remotes in remote_index.items():
                locals_ = local_index.get(key, [])
                if len(remotes) != 1 or len(locals_) != 1:
                    continue
                listing, (vehicle, ref) = remotes[0], locals_[0]
                remote_id = str(_listing_id(listing))
                used_remote.add(remote_id)
                used_local.add(ref)
                matches.append(AdoptionMatch(remote_id, ref, vehicle.car_ref, how, listing))

        def vin_of(value: Any) -> str | None:
            text = _text(value)
            return re.sub(r"\s+", "", text).upper() if text else None

        pair(lambda r: vin_of(r.get("chassisNumber")), lambda v: vin_of(v.vin), "vin")
        pair(
            lambda r: _title_key(r.get("title"), r.get("year"), r.get("price")),
            lambda v: _title_key(v.title, v.year, v.price),
            "title_year_price",
        )
        return matches

    def claim(self, remote_id: str, ref: str) -> SyncOutcome:
        """Take over an adopted listing: ``PATCH /listings/{id}`` with ``{externalRef}``.

        The outcome's payload is just ``{externalRef}``, so the next upsert diffs against it
        and sends the car's full data once.
        """
        if len(ref) > MAX_REF_LENGTH:
            raise FixInput("externalRef too long", fields={"externalRef": "at most 255 characters"})
        payload = {"externalRef": ref}
        with self.operation():
            try:
                response = self.request(
                    "write", "PATCH", f"/listings/{quote(remote_id, safe='')}", json_body=payload
                )
            except Conflict as exc:
                raise FixInput(
                    f"Another Carzle listing already uses externalRef {ref!r}",
                    fields={"externalRef": "already used by another listing on this showroom"},
                    status=exc.status,
                    request_id=exc.request_id,
                ) from exc
            listing = _listing_of(_json(response))
            return self.outcome(
                "update", remote_id=_listing_id(listing) or remote_id, external_ref=ref,
                payload=payload, fingerprint=fingerprint(payload),
            )


# --------------------------------------------------------------------------- schema helpers


def _schema_problem(value: Any, schema: Mapping[str, Any]) -> str | None:
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


# --------------------------------------------------------------------------- response helpers


def _json(response: Any) -> Any:
    if response.status_code == 204 or not response.content:
        return None
    try:
        return response.json()
    except ValueError as exc:
        raise ConnectorError(
            f"Carzle returned a non-JSON body (HTTP {response.status_code})",
            status=response.status_code,
        ) from exc


def _listing_of(body: Any) -> dict[str, Any]:
    if isinstance(body, Mapping):
        for key in ("data", "listing"):
            inner = body.get(key)
            if isinstance(inner, Mapping):
                return dict(inner)
        return dict(body)
    return {}


def _listing_id(listing: Mapping[str, Any]) -> str | None:
    value = listing.get("id") or listing.get("uuid")
    return str(value) if value else None


def _page_of(body: Any) -> tuple[list[dict[str, Any]], int | None, bool | None]:
    if isinstance(body, list):
        return [dict(i) for i in body if isinstance(i, Mapping)], None, None
    if not isinstance(body, Mapping):
        return [], None, None
    items = next(
        (body[k] for k in ("data", "listings", "items", "results") if isinstance(body.get(k), list)),
        [],
    )
    meta = body.get("pagination") or body.get("meta") or body
    total = meta.get("total") if isinstance(meta, Mapping) else None
    has_more = meta.get("hasMore") if isinstance(meta, Mapping) else None
    return (
        [dict(i) for i in items if isinstance(i, Mapping)],
        int(total) if isinstance(total, int) else None,
        has_more if isinstance(has_more, bool) else None,
    )


def _title_key(title: Any, year: Any, price: Any) -> tuple[str, int, int] | None:
    text = _text(title)
    problems: dict[str, str] = {}
    year_i = _as_int(year, "year", problems)
    price_i = _as_int(price, "price", problems)
    if not text or year_i is None or price_i is None:
        return None
    return " ".join(text.casefold().split()), year_i, price_i


__all__ = [
    "DEFAULT_MAX_IMAGES",
    "REF_SCHEMES",
    "REQUIRED_ON_CREATE",
    "SYNONYMS",
    "AdoptionMatch",
    "CarzleConnector",
    "CarzleMetadata",
    "map_enum",
]
