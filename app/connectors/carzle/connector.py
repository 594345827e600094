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
import logging
import time
from collections.abc import Iterable, Iterator, Mapping
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

from app.connectors import pagination
from app.connectors.auth import StaticKey
from app.connectors.base import RateLimits, RemoteState, SyncOutcome
from app.connectors.carzle.adoption import match_orphans
from app.connectors.carzle.catalogue import PARSED_METADATA, PARSED_METADATA_SECONDS, CarzleMetadata
from app.connectors.carzle.mapping import MAX_REF_LENGTH, CarzleMapping, clean_text
from app.connectors.carzle.responses import json_body, listing_id, listing_of
from app.connectors.errors import Conflict, FixInput, NotFound, RetryAt, RetryLater
from app.connectors.kinds import AdoptionMatch, ListingSink
from app.connectors.payload import diff_payload, fingerprint
from app.connectors.registry import register
from app.listings.vehicle import DELETED, Vehicle

log = logging.getLogger(__name__)

DEFAULT_BASE_URL = "https://carzle.ae/api/v1"
# The FAQ asks for reference data to be cached for an hour.
REFERENCE_TTL = 3600
# Kept for a day so a Carzle hiccup while refreshing falls back to slightly stale enums instead
# of failing every sync; freshness is still decided by REFERENCE_TTL.
REFERENCE_KEEP = 24 * 3600
REFRESH_RETRY = 300
PAGES = pagination.OffsetPages(limit=100)


@register
class CarzleConnector(CarzleMapping, ListingSink):
    """Carzle Dealer API (``https://carzle.ae/api/v1``, Bearer API key). See the module doc."""

    slug = "carzle"
    display_name = "Carzle"
    default_base_url = DEFAULT_BASE_URL
    credential_fields = ("api_key",)
    auth = StaticKey("api_key")  # Authorization: Bearer <key>
    rate_limits = RateLimits(reads=60, writes=30, window=60.0)
    # Carzle rewrites these (CDN image URLs, enrichment), so they cannot show drift.
    drift_ignored = frozenset({"imageUrls", "features"})
    option_names = (
        "ref_scheme", "ref_prefix", "regional_specs", "contacts", "default_contact",
        "max_images", "currency", "allow_insecure_images",
    )

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._metadata: CarzleMetadata | None = None
        self._contacts: list[dict[str, Any]] | None = None

    def _cache_key(self, what: str) -> str:
        # Hash, never the key itself: cache keys show up in Redis MONITOR and dumps.
        digest = hashlib.sha256(f"{self.base_url}\0{self.credentials['api_key']}".encode())
        return f"carzle:{what}:{digest.hexdigest()[:32]}"

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
            data = self.request("read", "GET", path, operation="read").json()
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
            hit = PARSED_METADATA.get(key)
            if hit is not None and hit[0] > time.monotonic():
                self._metadata = hit[1]
            else:
                self._metadata = CarzleMetadata.parse(self._reference("metadata", "/metadata"))
                PARSED_METADATA[key] = (time.monotonic() + PARSED_METADATA_SECONDS, self._metadata)
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

    # ---- operations ------------------------------------------------------------------------

    def check_credentials(self) -> dict[str, Any]:
        """``GET /me``: who the key belongs to and its quota; Reauthenticate on 401/403."""
        with self.operation():
            body = self.request("read", "GET", "/me", operation="read").json()
        return body if isinstance(body, dict) else {"data": body}

    def preview(self, vehicle: Vehicle) -> dict[str, Any]:
        """The body of ``POST /listings`` for ``vehicle`` (reads only the hourly reference data)."""
        with self.operation():
            payload, _ = self.build_payload(vehicle, creating=True)
        return payload

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
            response = self.request("write", "POST", "/listings", json_body=payload, operation="create")
        except Conflict as conflict:
            # Another sync created it first: take it over with the full payload.
            listing = self._patch_full(ref, payload, conflict)
            remote_id = listing_id(listing) or clean_text(conflict.details.get("existingId"))
            return self.outcome(
                "update", remote_id=remote_id, external_ref=ref, payload=payload,
                fingerprint=digest, warnings=warnings,
            )
        listing = listing_of(json_body(response))
        return self.outcome(
            "create", remote_id=listing_id(listing), external_ref=ref, payload=payload,
            fingerprint=digest, warnings=warnings,
        )

    def _patch_full(
        self, ref: str, payload: Mapping[str, Any], conflict: Conflict
    ) -> dict[str, Any]:
        # The ref is the URL; the body carries only the dealer's own fields (never nulls), so
        # whatever Carzle enriched on its POST stays.
        body = {k: v for k, v in payload.items() if k != "externalRef"}
        try:
            response = self.request(
                "write", "PATCH", self.ref_path(ref), json_body=body, operation="update"
            )
        except NotFound:
            # The 409 was not about our ref (no listing has it): retrying won't help.
            raise conflict from None
        return listing_of(json_body(response))

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
            response = self.request(
                "write", "PATCH", self.ref_path(known_ref), json_body=body, operation="update"
            )
        except NotFound:
            warnings.append("listing no longer existed on Carzle; created it again")
            return self._create(payload, digest, warnings)
        listing = listing_of(json_body(response))
        return self.outcome(
            "update", remote_id=listing_id(listing) or state.remote_id, external_ref=ref,
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
            self.request(
                "write", "DELETE", f"/listings/{quote(remote_id, safe='')}", operation="delete"
            )
        except NotFound:
            # A stale id: if a listing still carries our ref it is this car's and must go too.
            other = self._id_for_ref(ref) if ref else None
            if other is None or other == remote_id:
                warnings.append("listing was already gone on Carzle")
            else:
                remote_id = other
                self.request(
                    "write", "DELETE", f"/listings/{quote(other, safe='')}", operation="delete"
                )
        return self.outcome("delete", remote_id=remote_id, external_ref=ref, warnings=warnings)

    def _id_for_ref(self, ref: str) -> str | None:
        try:
            response = self.request("read", "GET", self.ref_path(ref), operation="read")
        except NotFound:
            return None
        return listing_id(listing_of(json_body(response)))

    def list_remote(self, updated_since: datetime | None = None) -> Iterator[dict[str, Any]]:
        """Every listing of the showroom (changed since ``updated_since``), page by page."""
        self.calls = []
        query: dict[str, Any] = {}
        if updated_since is not None:
            if updated_since.tzinfo is None:
                updated_since = updated_since.replace(tzinfo=UTC)
            query["updatedSince"] = updated_since.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S") + "Z"

        def fetch(params: dict[str, Any]) -> Any:
            return json_body(
                self.request("read", "GET", "/listings", params={**params, **query}, operation="read")
            )

        yield from pagination.items(fetch, PAGES)

    def adopt(
        self,
        local_vehicles: Iterable[Vehicle],
        remote_listings: Iterable[Mapping[str, Any]] | None = None,
    ) -> list[AdoptionMatch]:
        """Match dashboard-created listings (empty externalRef) to local cars (see
        :mod:`app.connectors.carzle.adoption`). Cars whose ref can't be built are skipped."""
        listings = list(remote_listings if remote_listings is not None else self.list_remote(None))
        cars: list[tuple[Vehicle, str]] = []
        for vehicle in local_vehicles:
            try:
                cars.append((vehicle, self.external_ref(vehicle)))
            except FixInput:
                continue
        return match_orphans(listings, cars)

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
                    "write", "PATCH", f"/listings/{quote(remote_id, safe='')}", json_body=payload,
                    operation="update",
                )
            except Conflict as exc:
                raise FixInput(
                    f"Another Carzle listing already uses externalRef {ref!r}",
                    fields={"externalRef": "already used by another listing on this showroom"},
                    status=exc.status,
                    request_id=exc.request_id,
                ) from exc
            listing = listing_of(json_body(response))
            return self.outcome(
                "update", remote_id=listing_id(listing) or remote_id, external_ref=ref,
                payload=payload, fingerprint=fingerprint(payload),
            )
