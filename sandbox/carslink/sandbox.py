"""Carslink partner push API (seed 002): ``POST /carslink/api/v1/stock``.

State: partner keys → dealers (created on first sight, per partner account) → live listings,
plus the removals (delete flag, full_replace omission, 24 h expiry) and the feed responses.
Feeds are applied before the response is sent, so a client reads the result straight away
from ``/_sandbox/carslink/state`` although the response says "processing in background".
"""

from __future__ import annotations

from collections import deque
from datetime import datetime, timedelta
from typing import Any

from flask import Response, jsonify, request

from sandbox.carslink.validation import (
    OVERRIDDEN_FIELDS,
    SHORT_DESCRIPTION,
    Skip,
    clean_dealer,
    clean_listing,
    generated_description,
    identity,
    looks_signed,
    resolve_postcode,
)
from sandbox.clock import SandboxClock, iso
from sandbox.common import (
    ApiError,
    ControlRoute,
    SandboxSettings,
    code_for_status,
    error_response,
    json_body_or_error,
)
from sandbox.feeds import FeedMarketplace

EXPIRY = timedelta(hours=24)
MODES = ("full_replace", "partial")
SYNC_HISTORY = 200
REMOVAL_HISTORY = 5000


class CarslinkSandbox(FeedMarketplace):
    name = "carslink"
    url_prefix = "/carslink/api/v1"
    default_account = "demo-partner"
    default_key_name = "partner key"

    def __init__(self, settings: SandboxSettings, *, clock: SandboxClock | None = None) -> None:
        super().__init__(settings, settings.carslink_keys, clock=clock)

    # ----------------------------------------------------------------- hooks

    def reset_data(self) -> None:
        self.dealers: dict[tuple[str, str], dict[str, Any]] = {}  # (account, partner_dealer_id)
        self.live: dict[str, dict[str, dict[str, Any]]] = {}  # dealer id → identity → listing
        self.raw: dict[str, dict[str, dict[str, Any]]] = {}  # what was sent, for partial merges
        self.removed: deque[dict[str, Any]] = deque(maxlen=REMOVAL_HISTORY)
        self.syncs: dict[str, dict[str, Any]] = {}
        self._sync_order: deque[str] = deque()

    def credential(self) -> tuple[str | None, str | None]:
        token = request.headers.get("X-Dealer-Api-Key", "").strip()
        return (token, None) if token else (None, "Missing X-Dealer-Api-Key header.")

    def invalid_key_message(self) -> str:
        return "Invalid partner API key."

    def error_response(self, status: int, message: str, **extra: Any) -> Response:
        fields = extra.pop("fields", None)
        return error_response(status, code_for_status(status), message, fields)

    def api_routes(self) -> list[ControlRoute]:
        return [("/stock", "stock", self._stock, ["POST"])]

    def extra_control_routes(self) -> list[ControlRoute]:
        def sync(sync_id: str) -> Response:
            with self._lock:
                found = self.syncs.get(sync_id)
            if found is None:
                raise ApiError(404, "not_found", "Unknown sync_id.")
            return jsonify(found)

        return [("/syncs/<sync_id>", "sync", sync, ["GET"])]

    # ----------------------------------------------------------------- the endpoint

    def _stock(self) -> Response:
        body = json_body_or_error(request.get_data())
        if not isinstance(body, dict):
            raise ApiError(400, "bad_request", "Request body must be a JSON object.")
        mode, dealer_in, listings = self._check_feed(body)
        result = self.apply_feed(self.current_key(), mode, dealer_in, listings)
        failure = self.after_commit_fault()
        if failure is not None:
            return failure
        resp = jsonify(result)
        resp.status_code = 202
        return resp

    @staticmethod
    def _check_feed(body: dict[str, Any]) -> tuple[str, dict[str, Any], list[Any]]:
        errors: dict[str, str] = {}
        mode = body.get("mode")
        if mode is None:
            errors["mode"] = "is required (full_replace or partial)"
        elif mode not in MODES:
            errors["mode"] = "must be one of: full_replace, partial"
        dealer = body.get("dealer")
        if not isinstance(dealer, dict):
            errors["dealer"] = "is required" if dealer is None else "must be an object"
        else:
            pid = dealer.get("partner_dealer_id")
            if pid is None or isinstance(pid, bool) or not isinstance(pid, (str, int)) or not str(pid).strip():
                errors["dealer.partner_dealer_id"] = "is required"
        listings = body.get("listings")
        if not isinstance(listings, list):
            errors["listings"] = "is required" if listings is None else "must be an array"
        if errors:
            raise ApiError(422, "validation_failed", "The feed was rejected; no listing was processed.", errors)
        return mode, dealer, listings  # type: ignore[return-value]

    def apply_feed(self, key: str, mode: str, dealer_in: dict[str, Any], items: list[Any]) -> dict[str, Any]:
        """Apply one feed sent with partner ``key`` and return Carslink's response body.

        ``dealer_in`` must carry ``partner_dealer_id`` (the endpoint checks the feed's shape);
        usable without Flask, e.g. to set up state for a test."""
        with self._lock:
            return self._apply_feed_locked(key, mode, dealer_in, items)

    def _apply_feed_locked(self, key: str, mode: str, dealer_in: dict[str, Any], items: list[Any]) -> dict[str, Any]:
        now = self.clock.now()
        self.expire(now)
        dealer, created = self._dealer(self.keys[key].account, dealer_in, now)
        sync_id = f"sync_{self.id_rng.getrandbits(32):08x}"
        live = self.live.setdefault(dealer["id"], {})
        raw = self.raw.setdefault(dealer["id"], {})
        accepted: set[str] = set()
        skipped: list[dict[str, Any]] = []
        deleted = removed = n_accepted = 0
        current_year = now.year
        allow_http = not self.settings.require_https_images

        for item in items:
            if not isinstance(item, dict):
                skipped.append({"source_id": None, "reason": "listing must be an object"})
                continue
            hint = item.get("source_id")
            hint = str(hint).strip() if isinstance(hint, (str, int)) and not isinstance(hint, bool) else None
            who = identity(item)
            flag = item.get("delete", False)
            if not isinstance(flag, bool):  # 1 == True in Python, but not in JSON
                skipped.append({"source_id": hint, "reason": "delete must be true or false"})
                continue
            if flag:
                if who is None:
                    skipped.append({"source_id": hint, "reason": "source_id is required to delete a listing"})
                    continue
                ident = f"{who[0]}:{who[1]}"
                accepted.discard(ident)
                if ident in live:
                    self._remove(dealer, ident, "delete", sync_id, now)
                    deleted += 1
                    removed += 1
                continue
            if who is None:
                skipped.append({"source_id": hint, "reason": "source_id is required"})
                continue
            ident = f"{who[0]}:{who[1]}"
            merged = {**raw.get(ident, {}), **item} if mode == "partial" else dict(item)
            merged.pop("delete", None)
            try:
                record = clean_listing(merged, allow_http_images=allow_http, current_year=current_year)
            except Skip as exc:
                skipped.append({"source_id": hint, "reason": str(exc)})
                continue
            self._store(key, dealer, ident, record, merged, item, sync_id, now)
            accepted.add(ident)
            n_accepted += 1

        if mode == "full_replace":
            for ident in [i for i in live if i not in accepted]:
                self._remove(dealer, ident, "full_replace", sync_id, now)
                removed += 1
            dealer["last_full_replace_sync_id"] = sync_id
            dealer["last_full_replace_at"] = iso(now)
        dealer["last_sync_id"] = sync_id
        dealer["updated_at"] = iso(now)

        counters = self.counters_for(key).events
        counters[f"feeds_{mode}"] += 1
        counters["listings_received"] += len(items)
        counters["listings_accepted"] += n_accepted
        counters["listings_skipped"] += len(skipped)
        counters["listings_removed"] += removed
        result = {
            "sync_id": sync_id,
            "status": "accepted",
            "message": "Payload accepted, processing in background",
            "received_count": len(items),
            "queued_count": n_accepted,
            "deleted_count": deleted,
            "success": True,
            "dealer": self._dealer_summary(dealer) if created else None,
            "feed": {
                "mode": mode,
                "received": len(items),
                "accepted": n_accepted,
                "skipped": len(skipped),
                "removed": removed,
            },
            "skipped_listings": skipped,
            "timestamp": iso(now),
        }
        self._record_sync(sync_id, dealer, result)
        return result

    # ----------------------------------------------------------------- state changes

    def _dealer(self, account: str, dealer_in: dict[str, Any], now: datetime) -> tuple[dict[str, Any], bool]:
        pid = str(dealer_in["partner_dealer_id"]).strip()
        profile, warnings = clean_dealer(dealer_in)
        dealer = self.dealers.get((account, pid))
        created = dealer is None
        if dealer is None:
            dealer = self.dealers[(account, pid)] = {
                "id": f"dlr_{self.id_rng.getrandbits(40):010x}",
                "account": account,
                "partner_dealer_id": pid,
                "profile": {},
                "created_at": iso(now),
                "welcome_email_to": None,
                "welcome_email_sent_at": None,
                "last_sync_id": None,
                "last_full_replace_sync_id": None,
                "last_full_replace_at": None,
            }
        # Fields sent update the profile; fields left out keep what an earlier feed said.
        dealer["profile"].update(profile)
        dealer["address"] = _address(dealer["profile"])
        dealer["warnings"] = warnings
        dealer["location"], dealer["region"] = resolve_postcode(dealer["profile"].get("postcode"))
        if dealer["welcome_email_sent_at"] is None and dealer["profile"].get("email"):
            dealer["welcome_email_to"] = dealer["profile"]["email"]
            dealer["welcome_email_sent_at"] = iso(now)
        return dealer, created

    def _store(
        self,
        key: str,
        dealer: dict[str, Any],
        ident: str,
        record: dict[str, Any],
        merged: dict[str, Any],
        sent: dict[str, Any],
        sync_id: str,
        now: datetime,
    ) -> None:
        live = self.live[dealer["id"]]
        previous = live.get(ident)
        description = record.get("description")
        record["description_generated"] = not description or len(description) < SHORT_DESCRIPTION
        if record["description_generated"]:
            record["description"] = generated_description(record)
        overridden = [name for name in OVERRIDDEN_FIELDS if name in sent]
        if overridden:
            self.counters_for(key).events["location_overrides"] += 1
        record.update(
            {
                "id": previous["id"] if previous else f"cl_{self.id_rng.getrandbits(48):012x}",
                "identity": ident,
                "dealer_id": dealer["id"],
                "partner_dealer_id": dealer["partner_dealer_id"],
                "location": dealer["location"],
                "region": dealer["region"],
                "overridden_fields": overridden,
                "hero_image": record["images"][0],
                "thumbnails": record["images"][1:4],
                "signed_image_urls": [u for u in record["images"] if looks_signed(u)],
                "created_at": previous["created_at"] if previous else iso(now),
                "updated_at": iso(now),
                "refreshed_at": iso(now),
                "expires_at": iso(now + EXPIRY),
                "last_sync_id": sync_id,
            }
        )
        live[ident] = record
        self.raw[dealer["id"]][ident] = {k: v for k, v in merged.items() if k not in OVERRIDDEN_FIELDS}

    def _remove(self, dealer: dict[str, Any], ident: str, reason: str, sync_id: str | None, now: datetime) -> None:
        listing = self.live[dealer["id"]].pop(ident)
        self.raw[dealer["id"]].pop(ident, None)
        self.removed.append(
            {
                "id": listing["id"],
                "identity": ident,
                "source_id": listing.get("source_id"),
                "dealer_id": dealer["id"],
                "partner_dealer_id": dealer["partner_dealer_id"],
                "reason": reason,
                "removed_at": iso(now),
                "sync_id": sync_id,
            }
        )

    def expire(self, now: datetime | None = None) -> int:
        """Remove listings not refreshed within 24 h of ``now`` (the sandbox clock)."""
        now = now or self.clock.now()
        cutoff = iso(now - EXPIRY)
        expired = 0
        with self._lock:
            for dealer in self.dealers.values():
                live = self.live.get(dealer["id"], {})
                for ident in [i for i, rec in live.items() if rec["refreshed_at"] <= cutoff]:
                    self._remove(dealer, ident, "expired", None, now)
                    expired += 1
        return expired

    def _record_sync(self, sync_id: str, dealer: dict[str, Any], result: dict[str, Any]) -> None:
        self.syncs[sync_id] = {**result, "dealer_id": dealer["id"], "partner_dealer_id": dealer["partner_dealer_id"]}
        self._sync_order.append(sync_id)
        while len(self._sync_order) > SYNC_HISTORY:
            self.syncs.pop(self._sync_order.popleft(), None)

    @staticmethod
    def _dealer_summary(dealer: dict[str, Any]) -> dict[str, Any]:
        return {
            "id": dealer["id"],
            "partner_dealer_id": dealer["partner_dealer_id"],
            "name": dealer["profile"].get("name"),
            "location": dealer["location"],
            "region": dealer["region"],
            "created": True,
        }

    # ----------------------------------------------------------------- state dump

    def state(self, args: dict[str, str]) -> dict[str, Any]:
        """Dealers, live listings, removals and recent feed responses, optionally for one
        ``dealer`` (partner_dealer_id) and/or ``account``."""
        now = self.clock.now()
        self.expire(now)
        want_dealer, want_account = args.get("dealer"), args.get("account")
        dealers = [
            d
            for d in self.dealers.values()
            if (want_dealer is None or d["partner_dealer_id"] == want_dealer)
            and (want_account is None or d["account"] == want_account)
        ]
        ids = {d["id"] for d in dealers}
        return {
            "now": iso(now),
            "dealers": [dict(d, live_listings=len(self.live.get(d["id"], {}))) for d in dealers],
            "listings": [rec for d in dealers for rec in self.live.get(d["id"], {}).values()],
            "removed": [r for r in self.removed if r["dealer_id"] in ids],
            "syncs": [self.syncs[s] for s in self._sync_order if self.syncs[s]["dealer_id"] in ids],
        }


def _address(profile: dict[str, Any]) -> str | None:
    """A flat ``address`` string wins; otherwise address_line_1 and town are combined."""
    if profile.get("address"):
        return profile["address"]
    parts = [profile.get("address_line_1"), profile.get("town")]
    return ", ".join(p for p in parts if p) or None
