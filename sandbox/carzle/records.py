"""The records the sandbox keeps (showrooms, their contacts, API keys, listings, per-key
request counters) and the timestamp format every response uses.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sandbox.carzle.schema import FIELDS


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


# The stats key of requests made without a valid key.
ANONYMOUS = "_anonymous"
