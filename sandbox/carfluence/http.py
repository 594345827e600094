"""Flask wiring for the Carfluence emulation: login with RS256 JWTs, scoped ``cf_live_`` keys,
per-principal rate limits, ``/inventory`` and the ``/_sandbox/carfluence`` control routes."""

from __future__ import annotations

import random
import secrets
import threading
from collections import Counter, deque
from dataclasses import dataclass, field
from typing import Any

from flask import Flask, Response, g, jsonify, request

from sandbox.carfluence.inventory import Inventory, InventoryError
from sandbox.carfluence.inventory import iso as _iso
from sandbox.carfluence.tokens import AUDIENCE, ISSUER, TokenExpired, TokenInvalid, TokenIssuer
from sandbox.common import (
    ApiError,
    ControlRoute,
    FixedWindowLimiter,
    RateDecision,
    SandboxSettings,
    json_body_or_error,
)
from sandbox.switches import Epoch, MarketClock, MarketSwitches

SCOPES = ("inventory:read", "inventory:history")
DEFAULT_GROUP = "demo-group"
DEFAULT_TOKEN_TTL = 900.0
DEFAULT_HANG_SECONDS = 30.0
_FAULT_CODES = {500: "internal_error", 502: "bad_gateway", 503: "service_unavailable"}
# Endpoint → scope a key needs; users (JWT) hold every scope through their role.
_ENDPOINT_SCOPES = {
    "carfluence_inventory": "inventory:read",
    "carfluence_vehicle": "inventory:read",
    "carfluence_history": "inventory:history",
}


@dataclass
class User:
    id: str
    email: str
    password: str
    groups: list[str]
    name: str
    roles: list[str] = field(default_factory=lambda: ["dealer_user"])
    logins: int = 0
    refreshes: int = 0


@dataclass
class Key:
    key: str
    group: str
    scopes: list[str]
    name: str = ""
    rate_limit: int | None = None  # per window; None: the shared read_limit
    allowed_ips: list[str] = field(default_factory=list)
    revoked: bool = False

    def to_json(self) -> dict[str, Any]:
        return {
            "key": self.key,
            "prefix": self.key[:12],
            "group": self.group,
            "scopes": self.scopes,
            "name": self.name,
            "rateLimit": self.rate_limit,
            "allowedIps": self.allowed_ips,
            "revoked": self.revoked,
        }


@dataclass
class Principal:
    id: str  # rate-limit and stats identity: the key itself or "user:<id>"
    groups: set[str]
    scopes: set[str]
    limit: int
    user: User | None = None
    key: Key | None = None


class CarfluenceSandbox:
    """Carfluence REST API v1 under ``/carfluence/api/v1``."""

    name = "carfluence"
    url_prefix = "/carfluence/api/v1"

    def __init__(self, settings: SandboxSettings | None = None) -> None:
        self.settings = settings or SandboxSettings()
        self.clock = MarketClock()
        self.issuer = TokenIssuer()
        self.inventory = Inventory(self.clock)
        self._lock = threading.RLock()
        self._limiter = FixedWindowLimiter()
        self._release = threading.Event()
        self.epoch = Epoch()
        self.reset()

    # ----------------------------------------------------------------- lifecycle

    def reset(self) -> None:
        """Forget users, keys, tokens, vehicles and counters; clear switches and the clock offset."""
        with self._lock:
            self.epoch.renew()  # requests still sleeping from before the reset give up
            self._release.set()  # let any hanging "timeout" page answer now
            self._release = threading.Event()
            self.clock.reset()
            self.inventory.clear()
            self._limiter.reset()
            self.switches = MarketSwitches()
            self.token_ttl = DEFAULT_TOKEN_TTL
            # Token-authenticated requests left before every token issued so far expires
            # (the clock jumps past their lifetime): "the token expires mid-way", deterministically.
            self.expire_after: int | None = None
            self.hang_seconds = DEFAULT_HANG_SECONDS
            self.broken_pages: list[dict[str, Any]] = []
            self._users: dict[str, User] = {}
            self._keys: dict[str, Key] = {}
            self._refresh: dict[str, str] = {}  # refresh token → user id (single use)
            self._issued: set[str] = set()  # jti of every token issued
            self._revoked: set[str] = set()
            self._stats: dict[str, Counter[str]] = {}
            self.audit: deque[dict[str, Any]] = deque(maxlen=2000)
            self._fault_rng = random.Random(self.settings.seed)
            for spec in self.settings.carfluence_users:
                email, _, rest = spec.partition(":")
                password, _, group = rest.partition(":")
                self.add_user(email, password, [group or DEFAULT_GROUP])
            for spec in self.settings.carfluence_keys:
                key, _, rest = spec.partition(":")
                group, _, scopes = rest.partition(":")
                self.add_key(key, group or DEFAULT_GROUP, [s for s in scopes.split(",") if s] or list(SCOPES))

    def on_settings_changed(self, changed: set[str]) -> None:
        with self._lock:
            if "seed" in changed:
                self._fault_rng = random.Random(self.settings.seed)
            if changed & {"rate_window_seconds", "read_limit"}:
                self._limiter.reset()

    def add_user(self, email: str, password: str, groups: list[str], name: str = "") -> User:
        with self._lock:
            user = User(f"usr_{len(self._users) + 1:04d}", email.strip().lower(), password, groups, name or email)
            self._users[user.email] = user
            return user

    def add_key(self, key: str | None, group: str, scopes: list[str], **options: Any) -> Key:
        unknown = sorted(set(scopes) - set(SCOPES))
        if unknown:
            raise ValueError(f"unknown scopes: {', '.join(unknown)} (known: {', '.join(SCOPES)})")
        if key is not None and not key.startswith("cf_live_"):
            raise ValueError("keys start with cf_live_")
        with self._lock:
            record = Key(key or "cf_live_" + secrets.token_hex(12), group, sorted(scopes), **options)
            self._keys[record.key] = record
            return record

    def revoke_all_tokens(self) -> int:
        """Invalidate every token issued so far (refresh tokens too); returns how many."""
        with self._lock:
            self._revoked |= self._issued
            self._refresh.clear()
            return len(self._issued)

    def stats(self) -> dict[str, Any]:
        with self._lock:
            return {
                "principals": {pid: dict(c) for pid, c in self._stats.items()},
                "users": {u.email: {"logins": u.logins, "refreshes": u.refreshes} for u in self._users.values()},
                "vehicles": len(self.inventory.dump()),
            }

    def control_routes(self) -> list[ControlRoute]:
        from sandbox.carfluence.control import control_routes

        return control_routes(self)

    def _count(self, principal: str, *names: str) -> None:
        with self._lock:
            counter = self._stats.setdefault(principal, Counter())
            for name in names:
                counter[name] += 1

    # ----------------------------------------------------------------- request pipeline

    def register(self, app: Flask) -> None:
        app.before_request(self._before_request)
        app.after_request(self._after_request)
        p = self.url_prefix
        app.add_url_rule(f"{p}/auth/login", "carfluence_login", self._login, methods=["POST"])
        app.add_url_rule(f"{p}/auth/refresh", "carfluence_refresh", self._refresh_token, methods=["POST"])
        app.add_url_rule(f"{p}/auth/me", "carfluence_me", self._me, methods=["GET"])
        app.add_url_rule(f"{p}/inventory", "carfluence_inventory", self._list_inventory, methods=["GET"])
        app.add_url_rule(f"{p}/inventory/<vin>", "carfluence_vehicle", self._get_vehicle, methods=["GET"])
        app.add_url_rule(f"{p}/inventory/<vin>/history", "carfluence_history", self._history, methods=["GET"])
        app.add_url_rule("/carfluence/.well-known/jwks.json", "carfluence_jwks", lambda: jsonify(self.issuer.jwks()))

    def _ours(self) -> bool:
        return request.path.startswith(self.url_prefix + "/") or request.path == self.url_prefix

    def _before_request(self) -> None:
        """Latency → outage (503) → auth (401) → IP allowlist (403) → rate limit (429) →
        scope (403) → injected fault (5xx) → broken page → routing (404/405) and the endpoint."""
        if not self._ours():
            return
        g.carfluence = None
        g.carfluence_epoch = epoch = self.epoch.current()
        latency = self.switches.latency(self.settings)
        if latency > 0:
            epoch.wait(latency / 1000.0)
        _give_up_if_reset(epoch)
        if self.switches.outage:
            raise ApiError(503, "service_unavailable", "Carfluence is unavailable.", headers={"Retry-After": "30"})
        if request.endpoint in ("carfluence_login", "carfluence_refresh"):
            self._count("_anonymous", f"{request.method} {request.path[len(self.url_prefix) :]}")
            return
        principal = self._authenticate(request.headers.get("Authorization", ""))
        g.carfluence = principal
        self._count(principal.id, "requests", f"{request.method} {request.path[len(self.url_prefix) :]}")
        if (
            principal.key is not None
            and principal.key.allowed_ips
            and request.remote_addr not in principal.key.allowed_ips
        ):
            raise ApiError(403, "forbidden", "This API key may not be used from this IP address.")
        s = self.settings
        g.carfluence_rate = self._limiter.hit(principal.id, "api", principal.limit, s.rate_window_seconds, self.clock())
        if not g.carfluence_rate.allowed:
            self._count(principal.id, "rate_limited")
            raise ApiError(
                429,
                "rate_limited",
                f"Rate limit exceeded: {principal.limit} requests per {s.rate_window_seconds:g}s.",
                headers={"Retry-After": str(g.carfluence_rate.retry_after(self.clock()))},
            )
        required = _ENDPOINT_SCOPES.get(request.endpoint or "")
        if required and required not in principal.scopes:
            raise ApiError(403, "forbidden", f"This API key lacks the {required} scope.")
        rate = self.switches.faults(s)
        if rate > 0:
            with self._lock:
                status = self._fault_rng.choice(tuple(_FAULT_CODES)) if self._fault_rng.random() < rate else None
            if status:
                self._count(principal.id, "faults")
                raise ApiError(status, _FAULT_CODES[status], "Injected sandbox fault. Retry with backoff.")
        if request.endpoint == "carfluence_inventory":
            self._maybe_break_page()

    def _authenticate(self, header: str) -> Principal:
        scheme, _, token = header.partition(" ")
        token = token.strip()
        if not header:
            raise _unauthorized("unauthorized", "Missing Authorization: Bearer <token> header.")
        if scheme.lower() != "bearer" or not token:
            raise _unauthorized("unauthorized", "Authorization must be Bearer <token>.")
        if token.startswith("cf_live_"):
            with self._lock:
                key = self._keys.get(token)
            if key is None or key.revoked:
                raise _unauthorized("unauthorized", "Invalid or revoked API key.")
            limit = key.rate_limit if key.rate_limit is not None else self.settings.read_limit
            return Principal(key.key, {key.group}, set(key.scopes), limit, key=key)
        self._maybe_expire_tokens()
        try:
            claims = self.issuer.verify(token, self.clock())
        except TokenExpired as exc:
            raise _unauthorized("token_expired", "Token has expired. Log in again or refresh.") from exc
        except TokenInvalid as exc:
            raise _unauthorized("unauthorized", f"Invalid token: {exc}.") from exc
        with self._lock:
            user = self._users.get(str(claims.get("email")))
            if user is None or claims.get("jti") in self._revoked:
                raise _unauthorized("unauthorized", "Token has been revoked.")
        return Principal(f"user:{user.id}", set(user.groups), set(SCOPES), self.settings.read_limit, user=user)

    def _maybe_expire_tokens(self) -> None:
        with self._lock:
            if self.expire_after is None:
                return
            if self.expire_after > 0:
                self.expire_after -= 1
                return
            self.expire_after = None
            self.clock.advance(self.token_ttl + 1)

    def _maybe_break_page(self) -> None:
        try:
            limit = int(request.args.get("limit", 50))
            offset = int(request.args.get("offset", 0))
        except ValueError:
            return  # the endpoint answers the 422
        page = offset // max(limit, 1) + 1
        with self._lock:
            rule = next((r for r in self.broken_pages if r["page"] == page), None)
            if rule is None:
                return
            if rule["times"] is not None:
                rule["times"] -= 1
                if rule["times"] <= 0:
                    self.broken_pages.remove(rule)
            release, hang = self._release, self.hang_seconds
        if rule["mode"] == "timeout":
            release.wait(hang)  # the client times out first; reset or a switch-off frees the thread
            _give_up_if_reset(g.carfluence_epoch)
            raise ApiError(504, "gateway_timeout", f"Page {page} timed out (sandbox broken-page switch).")
        raise ApiError(500, "internal_error", f"Page {page} failed (sandbox broken-page switch).")

    def _after_request(self, resp: Response) -> Response:
        epoch = g.get("carfluence_epoch")
        if not self._ours() or epoch is None:
            return resp
        rate: RateDecision | None = g.get("carfluence_rate")
        if rate is not None:
            for name, value in rate.headers().items():
                resp.headers[name] = value
        principal: Principal | None = g.get("carfluence")
        pid = principal.id if principal else "_anonymous"
        with self._lock:  # reset renews the epoch under this lock: check and write are atomic
            if epoch.is_set():
                return resp  # a request from before a reset leaves no trace in the new state
            self._count(pid, f"status {resp.status_code}")
            self.audit.append(
                {
                    "at": _iso(self.clock()),
                    "principal": pid,
                    "ip": request.remote_addr,
                    "method": request.method,
                    "path": request.full_path.rstrip("?"),
                    "status": resp.status_code,
                }
            )
        return resp

    # ----------------------------------------------------------------- auth endpoints

    def _login(self) -> Response:
        body = _json_object()
        errors = {k: "is required" for k in ("email", "password") if not isinstance(body.get(k), str) or not body[k]}
        if errors:
            raise ApiError(422, "validation_failed", "email and password are required.", errors)
        with self._lock:
            user = self._users.get(body["email"].strip().lower())
            if user is None or not secrets.compare_digest(user.password, body["password"]):
                raise ApiError(401, "invalid_credentials", "Invalid email or password.")
            user.logins += 1
        return jsonify(self._session(user))

    def _refresh_token(self) -> Response:
        body = _json_object()
        token = body.get("refresh_token")
        with self._lock:
            user_id = self._refresh.pop(token, None) if isinstance(token, str) else None
            user = next((u for u in self._users.values() if u.id == user_id), None)
            if user is None:
                raise ApiError(401, "unauthorized", "Invalid or already used refresh token.")
            user.refreshes += 1
        return jsonify(self._session(user))

    def _session(self, user: User) -> dict[str, Any]:
        now = self.clock()
        claims = {
            "iss": ISSUER,
            "aud": AUDIENCE,
            "sub": user.id,
            "email": user.email,
            "dealer_groups": user.groups,
            "roles": user.roles,
            "authenticationType": "PASSWORD",
            "iat": int(now),
            "exp": int(now + self.token_ttl),
            "jti": secrets.token_hex(8),
        }
        refresh = secrets.token_urlsafe(24)
        with self._lock:
            self._refresh[refresh] = user.id
            self._issued.add(claims["jti"])
        return {
            "token": self.issuer.sign(claims),
            "token_type": "Bearer",
            "expires_in": int(self.token_ttl),
            "expires_at": _iso(claims["exp"]),
            "refresh_token": refresh,
            "user": _user_json(user),
        }

    def _me(self) -> Response:
        principal: Principal = g.carfluence
        if principal.user is not None:
            return jsonify({"type": "user", "user": _user_json(principal.user)})
        assert principal.key is not None
        key = principal.key
        return jsonify({"type": "api_key", "key": {"prefix": key.key[:12], "name": key.name, "scopes": key.scopes}})

    # ----------------------------------------------------------------- inventory endpoints

    def _list_inventory(self) -> Response:
        principal: Principal = g.carfluence
        try:
            page, total, limit, offset = self.inventory.query(principal.groups, request.args.to_dict())
        except InventoryError as exc:
            raise ApiError(422, "validation_failed", "Invalid query parameters.", exc.fields) from exc
        return jsonify({"vehicles": page, "pagination": {"total": total, "limit": limit, "offset": offset}})

    def _get_vehicle(self, vin: str) -> Response:
        vehicle = self.inventory.get(vin, g.carfluence.groups)
        if vehicle is None:
            raise ApiError(404, "not_found", "No vehicle with this VIN in your inventory.")
        return jsonify(vehicle)

    def _history(self, vin: str) -> Response:
        history = self.inventory.history(vin, g.carfluence.groups)
        if history is None:
            raise ApiError(404, "not_found", "No vehicle with this VIN in your inventory.")
        return jsonify({"vin": vin.upper(), "history": history})


def _give_up_if_reset(epoch: threading.Event) -> None:
    if epoch.is_set():
        raise ApiError(503, "service_unavailable", "The sandbox was reset while this request waited.")


def _unauthorized(code: str, message: str) -> ApiError:
    challenge = f'Bearer realm="carfluence", error="invalid_token", error_description="{message}"'
    return ApiError(401, code, message, headers={"WWW-Authenticate": challenge})


def _json_object() -> dict[str, Any]:
    body = json_body_or_error(request.get_data())
    if not isinstance(body, dict):
        raise ApiError(400, "bad_request", "Request body must be a JSON object.")
    return body


def _user_json(user: User) -> dict[str, Any]:
    return {"id": user.id, "email": user.email, "name": user.name, "dealer_groups": user.groups, "roles": user.roles}
