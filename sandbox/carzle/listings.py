"""Listing operations as the API sees them: create (with enrichment), PATCH, read, soft delete
and the filtered, paginated list; ``externalRef`` uniqueness per showroom (409).

``_ListingsMixin`` is one part of :class:`~sandbox.carzle.sandbox.CarzleSandbox`; besides the
host's state (``_lock``, ``_listings``) it uses ``_validate`` (``schema``), ``_ingest``
(``images``) and ``_now`` / ``_new_uuid``.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import datetime
from typing import Any

from sandbox.carzle.images import _unfetched_image
from sandbox.carzle.records import ANONYMOUS, Listing, parse_timestamp
from sandbox.carzle.reference import DEFAULT_STATUS, STATUSES, lookup_vehicle_spec
from sandbox.carzle.schema import ENRICHABLE_FIELDS
from sandbox.common import ApiError


class _ListingsMixin:
    """Create, update, read, delete and list listings of one showroom."""

    _lock: threading.RLock
    _listings: dict[str, Listing]
    _now: Callable[[], datetime]
    _new_uuid: Callable[[], str]
    _validate: Callable[..., tuple[dict[str, Any], dict[str, str], list[tuple[int, str, bool]] | None]]
    _ingest: Callable[[list[tuple[int, str, bool]], str], tuple[list[dict[str, Any]], dict[str, str]]]

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
