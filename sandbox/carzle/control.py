"""``/_sandbox/carzle/...``: the dashboard side of Carzle that tests and dev scripts drive
(keys, showrooms, contacts, dashboard-created and -edited listings, image fetch counts, stats,
reset). Never part of the emulated API.

``_ControlMixin`` is one part of :class:`~sandbox.carzle.sandbox.CarzleSandbox`: its routes call
the host's public operations (``add_key``, ``create_listing``, ``stats`` ...).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING, Any

from flask import Response, jsonify, request

from sandbox.carzle.records import parse_timestamp
from sandbox.carzle.schema import _is_number
from sandbox.common import ALL_SCOPES_MARKER, ApiError, ControlRoute, json_body_or_error

if TYPE_CHECKING:
    from sandbox.carzle.records import ApiKey, Listing, Showroom


class _ControlMixin:
    """``control_routes``, mounted by ``sandbox.app``."""

    _lock: threading.RLock
    _keys: dict[str, ApiKey]
    _showrooms: dict[str, Showroom]
    _listings: dict[str, Listing]
    _require_showroom: Callable[[str], Showroom]

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
