"""``CarzleSandbox``: all Carzle state behind one lock (showrooms, contacts, keys, listings,
counters), its lifecycle and the inspection helpers tests use.

The behaviour is split by concern into mixins composed here: ``schema`` (payload validation and
``/metadata``), ``images`` (source fetching and ingestion), ``listings`` (listing operations),
``http`` (the Flask request pipeline and API routes) and ``control`` (``/_sandbox/carzle``).
"""

from __future__ import annotations

import random
import secrets
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterable
from datetime import UTC, datetime, timedelta
from typing import Any

from sandbox.carzle.control import _ControlMixin
from sandbox.carzle.http import _HttpMixin
from sandbox.carzle.images import _ImagesMixin
from sandbox.carzle.listings import _ListingsMixin
from sandbox.carzle.records import ApiKey, Contact, KeyStats, Listing, Showroom, _iso
from sandbox.carzle.reference import SCOPES
from sandbox.carzle.schema import _SchemaMixin
from sandbox.common import ALL_SCOPES_MARKER, ApiError, FixedWindowLimiter, SandboxSettings


class CarzleSandbox(_HttpMixin, _ControlMixin, _ListingsMixin, _ImagesMixin, _SchemaMixin):
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
