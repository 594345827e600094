"""Stateful emulation of the Carzle Dealer API (``/api/v1``), mounted at ``/carzle/api/v1``.

Carzle publishes no sandbox, so this module is the only way to exercise Forecourt's Carzle
connector end to end. It follows the public docs rule by rule (scoped Bearer keys, 60/30 rate
limits, the error envelope, 409 on duplicate ``externalRef``, 422 field errors, image ingestion
that really downloads every source URL, create-only enrichment, soft delete). Where the docs
are silent the choice is documented in ``sandbox/README.md``.

``CarzleSandbox`` holds all state behind one lock and is usable without Flask: tests can call
its methods directly or inspect it while driving it over HTTP.
"""

from __future__ import annotations

import hashlib
import ipaddress
import math
import random
import secrets
import socket
import struct
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urljoin, urlsplit

import requests
from flask import Blueprint, Flask, Response, g, jsonify, request

from sandbox.common import (
    ALL_SCOPES_MARKER,
    ApiError,
    ControlRoute,
    FixedWindowLimiter,
    RateDecision,
    SandboxSettings,
    json_body_or_error,
    nominal_rate_decision,
)

__all__ = ["PRICE_LIMIT", "SCOPES", "STATUSES", "CarzleSandbox", "SandboxSettings", "create_sandbox_app"]

# --------------------------------------------------------------------------- reference data

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


# --------------------------------------------------------------------------- payload schema


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


# --------------------------------------------------------------------------- image sniffing


def image_info(data: bytes) -> tuple[str | None, int | None, int | None]:
    """(format, width, height) from magic bytes; dimensions ``None`` when not cheaply known."""
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        if len(data) >= 24 and data[12:16] == b"IHDR":
            w, h = struct.unpack(">II", data[16:24])
            return "png", w, h
        return "png", None, None
    if data[:6] in (b"GIF87a", b"GIF89a"):
        if len(data) >= 10:
            w, h = struct.unpack("<HH", data[6:10])
            return "gif", w, h
        return "gif", None, None
    if data[:3] == b"\xff\xd8\xff":
        return ("jpeg", *_jpeg_size(data))
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return ("webp", *_webp_size(data))
    if data[4:8] == b"ftyp" and data[8:12] in (b"avif", b"avis", b"heic", b"heix", b"mif1", b"msf1"):
        return "heif", None, None
    return None, None, None


def _jpeg_size(data: bytes) -> tuple[int | None, int | None]:
    sof = {0xC0, 0xC1, 0xC2, 0xC3, 0xC5, 0xC6, 0xC7, 0xC9, 0xCA, 0xCB, 0xCD, 0xCE, 0xCF}
    i = 2
    while i + 4 <= len(data):
        if data[i] != 0xFF:
            i += 1
            continue
        marker = data[i + 1]
        if marker == 0xFF:
            i += 1
            continue
        if marker in (0xD8, 0x01) or 0xD0 <= marker <= 0xD7:
            i += 2
            continue
        (seglen,) = struct.unpack(">H", data[i + 2 : i + 4])
        if marker in sof and i + 9 <= len(data):
            h, w = struct.unpack(">HH", data[i + 5 : i + 9])
            return w, h
        i += 2 + seglen
    return None, None


def _webp_size(data: bytes) -> tuple[int | None, int | None]:
    chunk = data[12:16]
    if chunk == b"VP8X" and len(data) >= 30:
        return 1 + int.from_bytes(data[24:27], "little"), 1 + int.from_bytes(data[27:30], "little")
    if chunk == b"VP8 " and len(data) >= 30:
        w, h = struct.unpack("<HH", data[26:30])
        return w & 0x3FFF, h & 0x3FFF
    if chunk == b"VP8L" and len(data) >= 25:
        bits = int.from_bytes(data[21:25], "little")
        return (bits & 0x3FFF) + 1, ((bits >> 14) & 0x3FFF) + 1
    return None, None


# --------------------------------------------------------------------------- state records


def _iso(dt: datetime | None) -> str | None:
    return None if dt is None else dt.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def parse_timestamp(text: str) -> datetime | None:
    """ISO 8601 with an explicit zone (``Z`` or offset) → aware UTC datetime, else ``None``."""
    try:
        dt = datetime.fromisoformat(text.strip())
    except ValueError:
        return None
    if dt.tzinfo is None:
        return None
    return dt.astimezone(UTC)


@dataclass
class Showroom:
    id: str
    slug: str
    name: str

    def to_json(self) -> dict[str, Any]:
        return {"id": self.id, "slug": self.slug, "name": self.name}


@dataclass
class Contact:
    id: str
    showroom_id: str
    name: str
    phone: str | None
    whatsapp: str | None
    email: str | None
    is_default: bool

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "name": self.name,
            "phone": self.phone,
            "whatsapp": self.whatsapp,
            "email": self.email,
            "isDefault": self.is_default,
        }


@dataclass
class ApiKey:
    key: str
    name: str
    showroom_id: str
    scopes: frozenset[str]
    created_at: datetime
    expires_at: datetime | None = None
    revoked: bool = False

    def prefix(self) -> str:
        # Like a real dashboard: never echo the whole secret back.
        return self.key[:12] + "…" if len(self.key) > 12 else self.key


@dataclass
class Listing:
    id: str
    showroom_id: str
    data: dict[str, Any]
    images: list[dict[str, Any]]
    created_at: datetime
    updated_at: datetime
    source: str  # "api" | "dashboard"
    enriched: list[str] = field(default_factory=list)
    deleted_at: datetime | None = None

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"id": self.id}
        for name in FIELDS:
            if name == "imageUrls":
                out[name] = [
                    {"url": img["url"], "sourceUrl": img["sourceUrl"], "isHero": img["isHero"]} for img in self.images
                ]
            elif name == "externalRef":
                out[name] = self.data.get(name, "")
            elif name == "features":
                out[name] = [dict(f) for f in self.data.get(name, [])]
            else:
                out[name] = self.data.get(name)
        out["createdAt"] = _iso(self.created_at)
        out["updatedAt"] = _iso(self.updated_at)
        out["deletedAt"] = _iso(self.deleted_at)
        return out


@dataclass
class KeyStats:
    requests: Counter[str] = field(default_factory=Counter)  # "GET /listings/by-ref/abc"
    routes: Counter[str] = field(default_factory=Counter)  # "GET /listings/by-ref/{ref}"
    status_codes: Counter[str] = field(default_factory=Counter)
    methods: Counter[str] = field(default_factory=Counter)
    reads: int = 0
    writes: int = 0
    rate_limited: int = 0
    faults: int = 0
    image_fetches: int = 0
    metadata_calls: int = 0
    metadata_call_times: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {
            "total": sum(self.requests.values()),
            "requests": dict(self.requests),
            "routes": dict(self.routes),
            "statusCodes": dict(self.status_codes),
            "methods": dict(self.methods),
            "reads": self.reads,
            "writes": self.writes,
            "posts": self.methods.get("POST", 0),
            "patches": self.methods.get("PATCH", 0),
            "deletes": self.methods.get("DELETE", 0),
            "rateLimited": self.rate_limited,
            "faults": self.faults,
            "imageFetches": self.image_fetches,
            "metadataCalls": self.metadata_calls,
            "metadataCallTimes": list(self.metadata_call_times),
        }


ANONYMOUS = "_anonymous"
_READ_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
_INVALID = object()


@dataclass
class _RequestCtx:
    stats_key: str
    bucket: str
    key: ApiKey | None = None
    rate: RateDecision | None = None


# --------------------------------------------------------------------------- the sandbox


class CarzleSandbox:
    """All Carzle state plus the Flask wiring that exposes it."""

    name = "carzle"
    url_prefix = "/carzle/api/v1"

    def __init__(self, settings: SandboxSettings | None = None, *, clock: Callable[[], float] = time.time) -> None:
        self.settings = settings or SandboxSettings()
        self._clock = clock
        self._lock = threading.RLock()
        self._limiter = FixedWindowLimiter()
        self.reset()

    # ----------------------------------------------------------------- lifecycle

    def reset(self) -> None:
        """Forget every listing, key, showroom and counter; re-seed keys from settings."""
        with self._lock:
            self._showrooms: dict[str, Showroom] = {}
            self._contacts: dict[str, Contact] = {}
            self._keys: dict[str, ApiKey] = {}
            self._listings: dict[str, Listing] = {}
            self._key_stats: dict[str, KeyStats] = {}
            self._image_fetches: Counter[str] = Counter()
            self._last_ts: datetime | None = None
            self._reseed()
            self._limiter.reset()
            for spec in self.settings.carzle_keys:
                self.add_key(spec.key, spec.showroom, scopes=spec.scopes, name=spec.name)

    def _reseed(self) -> None:
        seed = self.settings.seed
        self._fault_rng = random.Random(seed)
        # Separate stream so the number of ids minted never shifts the fault sequence.
        self._id_rng = random.Random(f"carzle-ids:{seed}") if seed is not None else None

    def on_settings_changed(self, changed: set[str]) -> None:
        with self._lock:
            if "seed" in changed:
                self._reseed()
            if changed & {"rate_window_seconds", "read_limit", "write_limit"}:
                # New limits take effect immediately instead of after the old window ends.
                self._limiter.reset()

    # ----------------------------------------------------------------- helpers

    def _new_uuid(self) -> str:
        if self._id_rng is not None:
            return str(uuid.UUID(int=self._id_rng.getrandbits(128), version=4))
        return str(uuid.uuid4())

    def _now(self) -> datetime:
        # Strictly increasing so updatedAt ordering and updatedSince filters are unambiguous.
        now = datetime.fromtimestamp(self._clock(), UTC)
        if self._last_ts is not None and now <= self._last_ts:
            now = self._last_ts + timedelta(microseconds=1)
        self._last_ts = now
        return now

    def _utcnow(self) -> datetime:
        return datetime.fromtimestamp(self._clock(), UTC)

    def _stats_for(self, key: str) -> KeyStats:
        stats = self._key_stats.get(key)
        if stats is None:
            stats = self._key_stats[key] = KeyStats()
        return stats

    # ----------------------------------------------------------------- showrooms, contacts, keys

    def add_showroom(self, slug: str, name: str | None = None, *, default_contacts: bool = True) -> Showroom:
        """Create (or return the existing) showroom ``slug``; new ones get two contacts."""
        with self._lock:
            existing = self.find_showroom(slug)
            if existing is not None:
                return existing
            showroom = Showroom(id=self._new_uuid(), slug=slug, name=name or slug.replace("-", " ").title())
            self._showrooms[showroom.id] = showroom
            if default_contacts:
                tag = slug.lower().replace(" ", "-")
                self.add_contact(
                    showroom.id,
                    "Sales Desk",
                    phone="+971500000001",
                    whatsapp="+971500000001",
                    email=f"sales@{tag}.example",
                    is_default=True,
                )
                self.add_contact(
                    showroom.id,
                    "Omar Haddad",
                    phone="+971500000002",
                    whatsapp="+971500000002",
                    email=f"omar@{tag}.example",
                )
            return showroom

    def find_showroom(self, ref: str) -> Showroom | None:
        """By id or slug."""
        with self._lock:
            if ref in self._showrooms:
                return self._showrooms[ref]
            for showroom in self._showrooms.values():
                if showroom.slug == ref:
                    return showroom
            return None

    def _require_showroom(self, ref: str) -> Showroom:
        showroom = self.find_showroom(ref)
        if showroom is None:
            raise ApiError(404, "not_found", f"Unknown showroom {ref!r}.")
        return showroom

    def add_contact(
        self,
        showroom: str,
        name: str,
        *,
        phone: str | None = None,
        whatsapp: str | None = None,
        email: str | None = None,
        is_default: bool = False,
    ) -> Contact:
        with self._lock:
            room = self._require_showroom(showroom)
            if is_default:
                for c in self._contacts.values():
                    if c.showroom_id == room.id:
                        c.is_default = False
            contact = Contact(self._new_uuid(), room.id, name, phone, whatsapp, email, is_default)
            self._contacts[contact.id] = contact
            return contact

    def contacts(self, showroom: str) -> list[dict[str, Any]]:
        with self._lock:
            room = self._require_showroom(showroom)
            return [c.to_json() for c in self._contacts.values() if c.showroom_id == room.id]

    def add_key(
        self,
        key: str | None,
        showroom: str,
        *,
        scopes: Iterable[str] = (ALL_SCOPES_MARKER,),
        name: str = "",
        showroom_name: str | None = None,
        expires_in_seconds: float | None = None,
    ) -> ApiKey:
        """Register a key for ``showroom`` (created on first use). ``*`` means all scopes."""
        scope_set = set(scopes)
        if ALL_SCOPES_MARKER in scope_set or "all" in scope_set:
            scope_set = set(SCOPES)
        unknown = scope_set - set(SCOPES)
        if unknown:
            raise ApiError(422, "validation_failed", "Unknown scopes.", {"scopes": ", ".join(sorted(unknown))})
        with self._lock:
            key = key or "cz_test_" + secrets.token_hex(16)
            room = self.add_showroom(showroom, showroom_name)
            now = self._utcnow()
            record = ApiKey(
                key=key,
                name=name or f"{room.slug} integration",
                showroom_id=room.id,
                scopes=frozenset(scope_set),
                created_at=now,
                expires_at=now + timedelta(seconds=expires_in_seconds) if expires_in_seconds else None,
            )
            self._keys[key] = record
            return record

    def key_snapshot(self) -> list[dict[str, Any]]:
        with self._lock:
            return [self.key_json(k) for k in self._keys.values()]

    def revoke_key(self, key: str) -> bool:
        with self._lock:
            record = self._keys.get(key)
            if record is None:
                return False
            record.revoked = True
            return True

    def key_json(self, record: ApiKey) -> dict[str, Any]:
        room = self._showrooms[record.showroom_id]
        return {
            "key": record.key,
            "name": record.name,
            "showroom": room.slug,
            "showroomId": room.id,
            "scopes": sorted(record.scopes),
            "createdAt": _iso(record.created_at),
            "expiresAt": _iso(record.expires_at),
            "revoked": record.revoked,
        }

    # ----------------------------------------------------------------- inspection helpers for tests

    def get_listing(self, listing_id: str) -> dict[str, Any] | None:
        """Any listing by id, soft-deleted ones included, in control-API form."""
        with self._lock:
            listing = self._listings.get(listing_id)
            return None if listing is None else self._control_json(listing)

    def listings(self, showroom: str | None = None, *, include_deleted: bool = False) -> list[dict[str, Any]]:
        with self._lock:
            room_id = self._require_showroom(showroom).id if showroom else None
            rows = [
                self._control_json(lst)
                for lst in sorted(self._listings.values(), key=lambda x: (x.created_at, x.id))
                if (room_id is None or lst.showroom_id == room_id) and (include_deleted or lst.deleted_at is None)
            ]
            return rows

    def image_fetch_count(self, url: str) -> int:
        with self._lock:
            return self._image_fetches.get(url, 0)

    def image_fetches(self) -> dict[str, int]:
        with self._lock:
            return dict(self._image_fetches)

    def key_stats(self, key: str) -> dict[str, Any]:
        with self._lock:
            return self._stats_for(key).to_json()

    def metadata_calls(self, key: str) -> int:
        with self._lock:
            return self._stats_for(key).metadata_calls

    def stats(self) -> dict[str, Any]:
        with self._lock:
            live = sum(1 for lst in self._listings.values() if lst.deleted_at is None)
            return {
                "keys": {k: s.to_json() for k, s in self._key_stats.items()},
                "imageFetches": dict(self._image_fetches),
                "listings": {"total": len(self._listings), "live": live, "deleted": len(self._listings) - live},
            }

    def _control_json(self, listing: Listing) -> dict[str, Any]:
        out = listing.to_json()
        out["showroom"] = self._showrooms[listing.showroom_id].slug
        out["source"] = listing.source
        out["enrichedFields"] = list(listing.enriched)
        out["images"] = [dict(img) for img in listing.images]
        return out

    # ----------------------------------------------------------------- validation

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

    # ----------------------------------------------------------------- images

    def _source_problem(self, url: str) -> str | None:
        s = self.settings
        if not _is_http_url(url):  # a redirect may point anywhere
            return "Source URL rejected: must be an absolute http(s) URL"
        parts = urlsplit(url)
        if s.require_https_images and parts.scheme != "https":
            return "Source URL rejected: HTTPS is required"
        if s.allow_private_image_hosts:
            return None
        try:
            port = parts.port or (443 if parts.scheme == "https" else 80)
            infos = socket.getaddrinfo(parts.hostname, port, proto=socket.IPPROTO_TCP)
        except (socket.gaierror, ValueError, UnicodeError):
            return "Source download failed: DNS lookup failed"
        for info in infos:
            ip = ipaddress.ip_address(str(info[4][0]).split("%")[0])
            if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
                ip = ip.ipv4_mapped
            if not ip.is_global or ip.is_multicast:
                return "Source URL rejected: host resolves to a private or reserved address"
        return None

    def _count_fetch(self, url: str, stats_key: str) -> None:
        with self._lock:
            self._image_fetches[url] += 1
            self._stats_for(stats_key).image_fetches += 1

    def _fetch_one(self, url: str, stats_key: str) -> tuple[bytes | None, str | None]:
        s = self.settings
        current = url
        # Every hop is re-checked so a public URL cannot redirect into the private network.
        for _ in range(s.max_redirects + 1):
            problem = self._source_problem(current)
            if problem:
                return None, problem
            self._count_fetch(current, stats_key)
            session = requests.Session()
            session.trust_env = False  # proxies from the environment must not reroute fetches
            try:
                with session.get(
                    current,
                    timeout=(s.image_timeout_seconds, s.image_timeout_seconds),
                    stream=True,
                    allow_redirects=False,
                    headers={"User-Agent": "CarzleImageIngest/1.0 (sandbox)"},
                ) as resp:
                    if resp.is_redirect:
                        location = resp.headers.get("Location")
                        if not location:
                            return (None, f"Source download failed: HTTP {resp.status_code} without Location")
                        current = urljoin(current, location)
                        continue
                    if resp.status_code != 200:
                        return None, f"Source download failed: HTTP {resp.status_code}"
                    buf = bytearray()
                    for chunk in resp.iter_content(64 * 1024):
                        buf += chunk
                        if len(buf) > s.image_max_bytes:
                            return (None, f"Source download failed: larger than {s.image_max_bytes} bytes")
                    return bytes(buf), None
            except requests.Timeout:
                return None, "Source download failed: timed out"
            except requests.RequestException as exc:
                return None, f"Source download failed: {type(exc).__name__}"
            except (ValueError, UnicodeError, OSError) as exc:
                # Odd URLs can fail inside urllib3 before it raises its own error types.
                return None, f"Source download failed: {type(exc).__name__}"
            finally:
                session.close()
        return None, "Source download failed: too many redirects"

    def _ingest_one(self, url: str, stats_key: str) -> tuple[dict[str, Any] | None, str | None]:
        if not self.settings.fetch_images:
            return _unfetched_image(url), None
        data, problem = self._fetch_one(url, stats_key)
        if problem:
            return None, problem
        assert data is not None
        fmt, width, height = image_info(data)
        if self.settings.verify_image_format and fmt is None:
            return (None, "Source is not a supported image (JPEG, PNG, GIF, WebP, AVIF/HEIC)")
        if width and height and width * height > MAX_MEGAPIXELS:
            return None, f"Image is {width}x{height}, above the 40 megapixel limit"
        digest = hashlib.sha256(data).hexdigest()
        return {
            "url": f"{CDN_BASE}/{digest}.webp",
            "sourceUrl": url,
            "sha256": digest,
            "bytes": len(data),
            "sourceFormat": fmt,
            "width": width,
            "height": height,
        }, None

    def _ingest(
        self, entries: list[tuple[int, str, bool]], stats_key: str
    ) -> tuple[list[dict[str, Any]], dict[str, str]]:
        """Fetch every entry (in parallel); return (images in order, per-index errors)."""
        if not entries:
            return [], {}
        workers = min(8, len(entries))
        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="carzle-img") as pool:
            results = list(pool.map(lambda e: self._ingest_one(e[1], stats_key), entries))
        images: list[dict[str, Any]] = []
        errors: dict[str, str] = {}
        for (index, _url, hero), (image, problem) in zip(entries, results, strict=True):
            if problem:
                errors[f"imageUrls.{index}"] = problem
            else:
                assert image is not None
                image["isHero"] = hero
                images.append(image)
        if images and not any(img["isHero"] for img in images):
            images[0]["isHero"] = True  # the first photo leads when the dealer picks none
        return images, errors

    # ----------------------------------------------------------------- listing operations

    def _live_by_ref(self, showroom_id: str, ref: str) -> Listing | None:
        for listing in self._listings.values():
            if (
                listing.showroom_id == showroom_id
                and listing.deleted_at is None
                and listing.data.get("externalRef", "") == ref
            ):
                return listing
        return None

    def _raise_if_ref_taken(self, showroom_id: str, ref: str, *, exclude: str | None) -> None:
        if not ref:
            return
        with self._lock:
            other = self._live_by_ref(showroom_id, ref)
        if other is not None and other.id != exclude:
            raise ApiError(
                409,
                "conflict",
                "A listing with this externalRef already exists in this showroom.",
                {"externalRef": f"already used by listing {other.id}"},
                extra={"existingId": other.id},
            )

    def _resolve(self, showroom_id: str, *, listing_id: str | None = None, ref: str | None = None) -> Listing:
        with self._lock:
            if listing_id is not None:
                listing = self._listings.get(listing_id)
                if listing is not None and (listing.showroom_id != showroom_id or listing.deleted_at is not None):
                    listing = None
            else:
                listing = self._live_by_ref(showroom_id, ref or "")
        if listing is None:
            raise ApiError(404, "not_found", "Listing not found.")
        return listing

    @staticmethod
    def _validation_error(errors: dict[str, str]) -> ApiError:
        return ApiError(422, "validation_failed", "One or more fields are invalid.", errors)

    def _checked_payload(
        self,
        payload: Any,
        *,
        showroom_id: str,
        existing: dict[str, Any] | None,
        stats_key: str,
        exclude_id: str | None,
        dashboard: bool = False,
    ) -> tuple[dict[str, Any], list[dict[str, Any]] | None]:
        """Validate, check conflicts, ingest images. Mutates nothing but fetch counters."""
        if not isinstance(payload, dict):
            raise ApiError(400, "bad_request", "Request body must be a JSON object.")
        clean, errors, entries = self._validate(
            payload, showroom_id=showroom_id, existing=existing, dashboard=dashboard
        )
        if errors:
            # Images are still fetched so one response reports every problem, as in the
            # documented example that pairs a price error with an image error.
            if entries and not dashboard:
                errors.update(self._ingest(entries, stats_key)[1])
            raise self._validation_error(errors)
        ref = clean.get("externalRef")
        if ref:
            # Before any download, so a 409-then-PATCH retry does not fetch images twice.
            self._raise_if_ref_taken(showroom_id, ref, exclude=exclude_id)
        images: list[dict[str, Any]] | None = None
        if entries is not None:
            if dashboard:
                # Dashboard uploads are already on the CDN: nothing to fetch.
                images = [dict(_unfetched_image(url), isHero=hero) for _i, url, hero in entries]
                if images and not any(i["isHero"] for i in images):
                    images[0]["isHero"] = True
            else:
                images, image_errors = self._ingest(entries, stats_key)
                if image_errors:
                    raise self._validation_error(image_errors)
        return clean, images

    def create_listing(
        self,
        showroom_id: str,
        payload: Any,
        *,
        stats_key: str = ANONYMOUS,
        dashboard: bool = False,
        created_at: datetime | None = None,
        updated_at: datetime | None = None,
    ) -> dict[str, Any]:
        clean, images = self._checked_payload(
            payload, showroom_id=showroom_id, existing=None, stats_key=stats_key, exclude_id=None, dashboard=dashboard
        )
        clean.setdefault("externalRef", "")
        clean.setdefault("status", DEFAULT_STATUS)
        enriched: list[str] = []
        if not dashboard:
            spec = lookup_vehicle_spec(clean.get("make"), clean.get("model"), clean.get("trim"))
            for name in ENRICHABLE_FIELDS:
                if spec and name in spec and name not in clean:  # dealer-sent values always win
                    clean[name] = spec[name]
                    enriched.append(name)
        with self._lock:
            # Re-checked under the lock: two concurrent POSTs with one ref must yield one 409.
            self._raise_if_ref_taken(showroom_id, clean["externalRef"], exclude=None)
            now = self._now()
            listing = Listing(
                id=self._new_uuid(),
                showroom_id=showroom_id,
                data=clean,
                images=images or [],
                created_at=created_at or now,
                updated_at=updated_at or created_at or now,
                source="dashboard" if dashboard else "api",
                enriched=enriched,
            )
            self._listings[listing.id] = listing
            return listing.to_json()

    def update_listing(
        self,
        showroom_id: str,
        payload: Any,
        *,
        listing_id: str | None = None,
        ref: str | None = None,
        stats_key: str = ANONYMOUS,
        dashboard: bool = False,
    ) -> dict[str, Any]:
        """PATCH semantics: only sent keys change; never enriches."""
        with self._lock:
            listing = self._resolve(showroom_id, listing_id=listing_id, ref=ref)
            # Snapshot under the lock: validation and image downloads run without it.
            current = dict(listing.data)
        clean, images = self._checked_payload(
            payload,
            showroom_id=showroom_id,
            existing=current,
            stats_key=stats_key,
            exclude_id=listing.id,
            dashboard=dashboard,
        )
        with self._lock:
            if listing.deleted_at is not None:
                raise ApiError(404, "not_found", "Listing not found.")
            if clean.get("externalRef"):
                self._raise_if_ref_taken(showroom_id, clean["externalRef"], exclude=listing.id)
            listing.data.update(clean)
            if images is not None:
                listing.images = images
            listing.updated_at = self._now()
            return listing.to_json()

    def read_listing(
        self, showroom_id: str, *, listing_id: str | None = None, ref: str | None = None
    ) -> dict[str, Any]:
        """A live listing of this showroom as the API shows it; 404 ``ApiError`` otherwise."""
        with self._lock:
            return self._resolve(showroom_id, listing_id=listing_id, ref=ref).to_json()

    def delete_listing(
        self, showroom_id: str, *, listing_id: str | None = None, ref: str | None = None
    ) -> dict[str, Any]:
        """Soft delete; the externalRef becomes free for a new listing."""
        with self._lock:
            listing = self._resolve(showroom_id, listing_id=listing_id, ref=ref)
            now = self._now()
            listing.deleted_at = now
            listing.updated_at = now
            return listing.to_json()

    def list_listings(self, showroom_id: str, args: dict[str, str]) -> dict[str, Any]:
        errors: dict[str, str] = {}
        since = None
        if "updatedSince" in args:
            since = parse_timestamp(args["updatedSince"])
            if since is None:
                errors["updatedSince"] = (
                    "must be an ISO 8601 timestamp with a timezone, e.g. 2026-04-01T00:00:00Z (URL-encode '+' offsets)"
                )
        status = args.get("status")
        if status is not None and status not in STATUSES:
            errors["status"] = "must be one of: " + ", ".join(STATUSES)
        limit = _int_arg(args, "limit", 50, 1, 100, errors)
        offset = _int_arg(args, "offset", 0, 0, None, errors)
        if errors:
            raise self._validation_error(errors)
        ref = args.get("externalRef")
        with self._lock:
            rows = [
                lst
                for lst in self._listings.values()
                if lst.showroom_id == showroom_id
                and lst.deleted_at is None
                and (since is None or lst.updated_at >= since)
                and (status is None or lst.data.get("status") == status)
                and (ref is None or lst.data.get("externalRef", "") == ref)
            ]
            # Creation order is stable while listings are edited between page fetches.
            rows.sort(key=lambda x: (x.created_at, x.id))
            page = [lst.to_json() for lst in rows[offset : offset + limit]]
        return {"listings": page, "pagination": {"total": len(rows), "limit": limit, "offset": offset}}

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

    # ----------------------------------------------------------------- HTTP: request pipeline

    def register(self, app: Flask) -> None:
        app.before_request(self._before_request)
        app.after_request(self._after_request)
        app.register_blueprint(self._api_blueprint())

    def _is_ours(self) -> bool:
        path = request.path
        return path == self.url_prefix or path.startswith(self.url_prefix + "/")

    def _before_request(self) -> None:
        """Latency → auth (401) → rate limit (429) → scope (403) → injected fault (5xx).

        Runs app-wide (filtered by path) so unknown Carzle paths are authenticated and
        rate-limited like known ones, and every Carzle response gets rate-limit headers.
        """
        if not self._is_ours():
            return
        s = self.settings
        if s.latency_ms > 0:
            time.sleep(s.latency_ms / 1000.0)
        bucket = "read" if request.method in _READ_METHODS else "write"
        ctx = _RequestCtx(stats_key=ANONYMOUS, bucket=bucket)
        g.carzle = ctx

        header = request.headers.get("Authorization", "")
        scheme, _, token = header.partition(" ")
        token = token.strip()
        with self._lock:
            record = self._keys.get(token) if scheme.lower() == "bearer" and token else None
            problem = self._auth_problem(header, record)
            ctx.stats_key = record.key if record is not None and problem is None else ANONYMOUS
            self._record_request(ctx)
        if problem is not None or record is None:
            raise ApiError(401, "unauthorized", problem or "Invalid API key.", headers=_WWW_AUTH)
        ctx.key = record

        limit = s.read_limit if bucket == "read" else s.write_limit
        ctx.rate = self._limiter.hit(record.key, bucket, limit, s.rate_window_seconds, self._clock())
        if not ctx.rate.allowed:
            with self._lock:
                self._stats_for(record.key).rate_limited += 1
            raise ApiError(
                429,
                "rate_limited",
                f"Rate limit exceeded: {limit} {bucket} requests per {s.rate_window_seconds:g}s. "
                "Retry after X-RateLimit-Reset.",
                headers={"Retry-After": str(ctx.rate.retry_after(self._clock()))},
            )

        required = _ENDPOINT_SCOPES.get(request.endpoint or "")
        if required and required not in record.scopes:
            raise ApiError(403, "forbidden", f"This key lacks the {required} scope.")

        if s.fault_rate > 0:
            with self._lock:
                roll = self._fault_rng.random()
                status = self._fault_rng.choice((500, 502, 503)) if roll < s.fault_rate else None
                if status:
                    self._stats_for(record.key).faults += 1
            if status:
                code = {500: "internal_error", 502: "bad_gateway", 503: "service_unavailable"}[status]
                raise ApiError(status, code, "Injected sandbox fault; nothing was changed. Retry with backoff.")

    def _auth_problem(self, header: str, record: ApiKey | None) -> str | None:
        if not header:
            return "Missing Authorization: Bearer <key> header."
        if record is None:
            return "Invalid API key."
        if record.revoked:
            return "API key has been revoked."
        if record.expires_at is not None and record.expires_at <= self._utcnow():
            return "API key has expired."
        return None

    def _record_request(self, ctx: _RequestCtx) -> None:
        stats = self._stats_for(ctx.stats_key)
        rel = request.path[len(self.url_prefix) :] or "/"
        stats.requests[f"{request.method} {rel}"] += 1
        rule = request.url_rule.rule[len(self.url_prefix) :] if request.url_rule else rel
        rule = rule.replace("<path:ref>", "{ref}").replace("<listing_id>", "{id}")
        stats.routes[f"{request.method} {rule}"] += 1
        stats.methods[request.method] += 1
        if ctx.bucket == "read":
            stats.reads += 1
        else:
            stats.writes += 1

    def _after_request(self, resp: Response) -> Response:
        ctx: _RequestCtx | None = g.get("carzle")
        if ctx is None or not self._is_ours():
            return resp
        s = self.settings
        rate = ctx.rate
        if rate is None:
            limit = s.read_limit if ctx.bucket == "read" else s.write_limit
            rate = nominal_rate_decision(limit, s.rate_window_seconds, self._clock())
        for name, value in rate.headers().items():
            resp.headers[name] = value
        with self._lock:
            self._stats_for(ctx.stats_key).status_codes[str(resp.status_code)] += 1
        return resp

    # ----------------------------------------------------------------- HTTP: API routes

    def _key(self) -> ApiKey:
        ctx: _RequestCtx = g.carzle
        assert ctx.key is not None
        return ctx.key

    def _api_blueprint(self) -> Blueprint:
        bp = Blueprint("carzle", __name__, url_prefix=self.url_prefix)

        def me() -> Response:
            key = self._key()
            s = self.settings
            with self._lock:
                room = self._showrooms[key.showroom_id]
            now = self._clock()
            read = self._limiter.peek(key.key, "read", s.read_limit, s.rate_window_seconds, now)
            write = self._limiter.peek(key.key, "write", s.write_limit, s.rate_window_seconds, now)
            return jsonify(
                {
                    "key": {
                        "name": key.name,
                        "prefix": key.prefix(),
                        "scopes": sorted(key.scopes),
                        "createdAt": _iso(key.created_at),
                        "expiresAt": _iso(key.expires_at),
                    },
                    "showroom": {"id": room.id, "name": room.name},
                    "rateLimits": {
                        "windowSeconds": s.rate_window_seconds,
                        "read": {"limit": read.limit, "remaining": read.remaining, "reset": read.reset_epoch},
                        "write": {"limit": write.limit, "remaining": write.remaining, "reset": write.reset_epoch},
                    },
                }
            )

        def metadata() -> Response:
            key = self._key()
            with self._lock:
                stats = self._stats_for(key.key)
                stats.metadata_calls += 1
                stats.metadata_call_times.append(_iso(self._utcnow()) or "")
            resp = jsonify(self.metadata())
            resp.headers["Cache-Control"] = "private, max-age=3600"
            return resp

        def contacts() -> Response:
            return jsonify({"contacts": self.contacts(self._key().showroom_id)})

        def list_listings() -> Response:
            return jsonify(self.list_listings(self._key().showroom_id, request.args.to_dict()))

        def create_listing() -> Response:
            key = self._key()
            body = json_body_or_error(request.get_data())
            listing = self.create_listing(key.showroom_id, body, stats_key=key.key)
            resp = jsonify(listing)
            resp.status_code = 201
            resp.headers["Location"] = f"{self.url_prefix}/listings/{listing['id']}"
            return resp

        def get_listing(listing_id: str) -> Response:
            return jsonify(self.read_listing(self._key().showroom_id, listing_id=listing_id))

        def patch_listing(listing_id: str) -> Response:
            key = self._key()
            body = json_body_or_error(request.get_data())
            return jsonify(self.update_listing(key.showroom_id, body, listing_id=listing_id, stats_key=key.key))

        def delete_listing(listing_id: str) -> Response:
            return jsonify(self.delete_listing(self._key().showroom_id, listing_id=listing_id))

        def get_by_ref(ref: str) -> Response:
            return jsonify(self.read_listing(self._key().showroom_id, ref=ref))

        def patch_by_ref(ref: str) -> Response:
            key = self._key()
            body = json_body_or_error(request.get_data())
            return jsonify(self.update_listing(key.showroom_id, body, ref=ref, stats_key=key.key))

        def delete_by_ref(ref: str) -> Response:
            return jsonify(self.delete_listing(self._key().showroom_id, ref=ref))

        bp.add_url_rule("/me", "me", me, methods=["GET"])
        bp.add_url_rule("/metadata", "metadata", metadata, methods=["GET"])
        bp.add_url_rule("/contacts", "contacts", contacts, methods=["GET"])
        bp.add_url_rule("/listings", "list_listings", list_listings, methods=["GET"])
        bp.add_url_rule("/listings", "create_listing", create_listing, methods=["POST"])
        bp.add_url_rule("/listings/by-ref/<path:ref>", "get_by_ref", get_by_ref, methods=["GET"])
        bp.add_url_rule("/listings/by-ref/<path:ref>", "patch_by_ref", patch_by_ref, methods=["PATCH"])
        bp.add_url_rule("/listings/by-ref/<path:ref>", "delete_by_ref", delete_by_ref, methods=["DELETE"])
        bp.add_url_rule("/listings/<listing_id>", "get_listing", get_listing, methods=["GET"])
        bp.add_url_rule("/listings/<listing_id>", "patch_listing", patch_listing, methods=["PATCH"])
        bp.add_url_rule("/listings/<listing_id>", "delete_listing", delete_listing, methods=["DELETE"])
        return bp

    # ----------------------------------------------------------------- HTTP: control routes

    def control_routes(self) -> list[ControlRoute]:
        """Sandbox-only routes, mounted by ``sandbox.app`` under ``/_sandbox/carzle``."""

        def body() -> dict[str, Any]:
            data = json_body_or_error(request.get_data())
            if data is None:
                return {}
            if not isinstance(data, dict):
                raise ApiError(400, "bad_request", "Request body must be a JSON object.")
            return data

        def list_keys() -> Response:
            return jsonify({"keys": self.key_snapshot()})

        def create_key() -> Response:
            data = body()
            showroom = data.get("showroom")
            if not isinstance(showroom, str) or not showroom:
                raise ApiError(422, "validation_failed", "showroom is required.", {"showroom": "is required"})
            scopes = data.get("scopes", [ALL_SCOPES_MARKER])
            if isinstance(scopes, str):
                scopes = [s.strip() for s in scopes.split(",") if s.strip()]
            if not isinstance(scopes, list) or not all(isinstance(s, str) for s in scopes):
                raise ApiError(422, "validation_failed", "Bad scopes.", {"scopes": "must be an array of strings"})
            key = data.get("key")
            if key is not None and (not isinstance(key, str) or not key or " " in key):
                raise ApiError(422, "validation_failed", "Bad key.", {"key": "must be a non-empty string"})
            expires = data.get("expiresInSeconds")
            if expires is not None and (not _is_number(expires) or expires <= 0):
                raise ApiError(422, "validation_failed", "Bad expiry.", {"expiresInSeconds": "must be > 0"})
            record = self.add_key(
                key,
                showroom,
                scopes=scopes,
                name=str(data.get("name") or ""),
                showroom_name=data.get("showroomName"),
                expires_in_seconds=expires,
            )
            resp = jsonify(self.key_json(record))
            resp.status_code = 201
            return resp

        def revoke_key(key: str) -> Response:
            if not self.revoke_key(key):
                raise ApiError(404, "not_found", "Unknown key.")
            with self._lock:
                return jsonify(self.key_json(self._keys[key]))

        def list_showrooms() -> Response:
            with self._lock:
                rooms = [dict(r.to_json(), contacts=self.contacts(r.id)) for r in self._showrooms.values()]
            return jsonify({"showrooms": rooms})

        def create_showroom() -> Response:
            data = body()
            slug = data.get("slug") or data.get("showroom")
            if not isinstance(slug, str) or not slug:
                raise ApiError(422, "validation_failed", "slug is required.", {"slug": "is required"})
            room = self.add_showroom(slug, data.get("name"), default_contacts=bool(data.get("defaultContacts", True)))
            resp = jsonify(dict(room.to_json(), contacts=self.contacts(room.id)))
            resp.status_code = 201
            return resp

        def list_contacts() -> Response:
            showroom = request.args.get("showroom")
            if not showroom:
                raise ApiError(422, "validation_failed", "showroom is required.", {"showroom": "is required"})
            return jsonify({"contacts": self.contacts(showroom)})

        def create_contact() -> Response:
            data = body()
            showroom, name = data.get("showroom"), data.get("name")
            if not isinstance(showroom, str) or not isinstance(name, str) or not name:
                raise ApiError(
                    422,
                    "validation_failed",
                    "showroom and name are required.",
                    {"showroom": "is required", "name": "is required"},
                )
            contact = self.add_contact(
                showroom,
                name,
                phone=data.get("phone"),
                whatsapp=data.get("whatsapp"),
                email=data.get("email"),
                is_default=bool(data.get("isDefault", False)),
            )
            resp = jsonify(contact.to_json())
            resp.status_code = 201
            return resp

        def list_all_listings() -> Response:
            include_deleted = request.args.get("includeDeleted", "").lower() in ("1", "true", "yes")
            return jsonify({"listings": self.listings(request.args.get("showroom"), include_deleted=include_deleted)})

        def seed_listing() -> Response:
            data = body()
            showroom = data.pop("showroom", None)
            if not isinstance(showroom, str) or not showroom:
                raise ApiError(422, "validation_failed", "showroom is required.", {"showroom": "is required"})
            room = self._require_showroom(showroom)
            stamps: dict[str, datetime] = {}
            for name in ("createdAt", "updatedAt"):
                if name in data:
                    raw = data.pop(name)
                    parsed = parse_timestamp(raw) if isinstance(raw, str) else None
                    if parsed is None:
                        raise ApiError(422, "validation_failed", "Bad timestamp.", {name: "must be ISO 8601 with zone"})
                    stamps[name] = parsed
            listing = self.create_listing(
                room.id, data, dashboard=True, created_at=stamps.get("createdAt"), updated_at=stamps.get("updatedAt")
            )
            resp = jsonify(self.get_listing(listing["id"]))
            resp.status_code = 201
            return resp

        def dashboard_edit(listing_id: str) -> Response:
            with self._lock:
                listing = self._listings.get(listing_id)
            if listing is None:
                raise ApiError(404, "not_found", "Listing not found.")
            self.update_listing(listing.showroom_id, body(), listing_id=listing_id, dashboard=True)
            return jsonify(self.get_listing(listing_id))

        def dashboard_delete(listing_id: str) -> Response:
            with self._lock:
                listing = self._listings.get(listing_id)
            if listing is None:
                raise ApiError(404, "not_found", "Listing not found.")
            self.delete_listing(listing.showroom_id, listing_id=listing_id)
            return jsonify(self.get_listing(listing_id))

        def stats() -> Response:
            return jsonify(self.stats())

        def reset() -> Response:
            self.reset()
            return jsonify({"reset": True})

        def images() -> Response:
            return jsonify({"imageFetches": self.image_fetches()})

        return [
            ("/keys", "keys", list_keys, ["GET"]),
            ("/keys", "create_key", create_key, ["POST"]),
            ("/keys/<key>", "revoke_key", revoke_key, ["DELETE"]),
            ("/showrooms", "showrooms", list_showrooms, ["GET"]),
            ("/showrooms", "create_showroom", create_showroom, ["POST"]),
            ("/contacts", "contacts", list_contacts, ["GET"]),
            ("/contacts", "create_contact", create_contact, ["POST"]),
            ("/listings", "listings", list_all_listings, ["GET"]),
            ("/listings", "seed_listing", seed_listing, ["POST"]),
            ("/listings/<listing_id>", "dashboard_edit", dashboard_edit, ["PATCH"]),
            ("/listings/<listing_id>", "dashboard_delete", dashboard_delete, ["DELETE"]),
            ("/images", "images", images, ["GET"]),
            ("/stats", "stats", stats, ["GET"]),
            ("/reset", "reset", reset, ["POST"]),
        ]


_WWW_AUTH = {"WWW-Authenticate": 'Bearer realm="carzle"'}

_ENDPOINT_SCOPES: dict[str, str | None] = {
    "carzle.me": None,
    "carzle.metadata": None,
    "carzle.contacts": None,
    "carzle.list_listings": "listings:read",
    "carzle.get_listing": "listings:read",
    "carzle.get_by_ref": "listings:read",
    "carzle.create_listing": "listings:write",
    "carzle.patch_listing": "listings:write",
    "carzle.patch_by_ref": "listings:write",
    "carzle.delete_listing": "listings:delete",
    "carzle.delete_by_ref": "listings:delete",
}


def _is_http_url(url: str) -> bool:
    try:
        parts = urlsplit(url)
        return parts.scheme in ("http", "https") and bool(parts.hostname) and (parts.port or 1) > 0
    except ValueError:  # e.g. "http://[::1" or a non-numeric port
        return False


def _unfetched_image(url: str) -> dict[str, Any]:
    # Without bytes, hash the source URL so the CDN URL is still stable per source.
    digest = hashlib.sha256(url.encode()).hexdigest()
    return {"url": f"{CDN_BASE}/{digest}.webp", "sourceUrl": url, "sha256": digest}


def _int_arg(args: dict[str, str], name: str, default: int, lo: int, hi: int | None, errors: dict[str, str]) -> int:
    raw = args.get(name)
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError:
        errors[name] = "must be an integer"
        return default
    if value < lo or (hi is not None and value > hi):
        errors[name] = f"must be between {lo} and {hi}" if hi is not None else f"must be at least {lo}"
        return default
    return value


def create_sandbox_app(settings: SandboxSettings | None = None) -> Flask:
    """Convenience re-export of :func:`sandbox.app.create_sandbox_app`."""
    from sandbox.app import create_sandbox_app as _factory

    return _factory(settings)
