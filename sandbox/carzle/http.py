"""Flask wiring of the Carzle API: the request pipeline that runs before every ``/carzle/api/v1``
request (latency, auth, rate limits, scopes, injected faults), the rate-limit headers and
status counters after it, and the API blueprint itself.

``_HttpMixin`` is one part of :class:`~sandbox.carzle.sandbox.CarzleSandbox`; besides the
host's state it uses, the routes call the host's public operations (``create_listing``,
``list_listings``, ``metadata`` ...).
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from flask import Blueprint, Flask, Response, g, jsonify, request

from sandbox.carzle.records import ANONYMOUS, ApiKey, KeyStats, Showroom, _iso
from sandbox.common import (
    ApiError,
    FixedWindowLimiter,
    RateDecision,
    SandboxSettings,
    json_body_or_error,
    nominal_rate_decision,
)

_READ_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})

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


@dataclass
class _RequestCtx:
    stats_key: str
    bucket: str
    key: ApiKey | None = None
    rate: RateDecision | None = None


class _HttpMixin:
    """``register`` (hooks and blueprint), the before/after-request pipeline and the API routes."""

    url_prefix: str
    settings: SandboxSettings
    _clock: Callable[[], float]
    _lock: threading.RLock
    _limiter: FixedWindowLimiter
    _fault_rng: random.Random
    _keys: dict[str, ApiKey]
    _showrooms: dict[str, Showroom]
    _stats_for: Callable[[str], KeyStats]
    _utcnow: Callable[[], datetime]

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
