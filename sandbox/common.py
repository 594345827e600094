"""Plumbing shared by every marketplace emulation: settings, request ids, the error envelope
and fixed-window rate limiting.

Marketplace modules (``carzle/``, ``carslink/``, ``auterio.py``, ``roadster/``, ``carfluence/``) build on these so
that every sandboxed API answers errors the same way and is configured from one place.
"""

from __future__ import annotations

import json
import math
import os
import re
import threading
import time
from dataclasses import dataclass, field, fields
from typing import Any, Protocol

from flask import Flask, Response, current_app, g, jsonify
from werkzeug.exceptions import HTTPException

# Crockford base32, as used by ULIDs: sortable by time and free of ambiguous letters.
_CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"


def new_request_id() -> str:
    """Return a ``req_`` + 26-char ULID-style id (48-bit ms timestamp + 80 random bits)."""
    value = (int(time.time() * 1000) << 80) | int.from_bytes(os.urandom(10), "big")
    chars = []
    for _ in range(26):
        chars.append(_CROCKFORD[value & 31])
        value >>= 5
    return "req_" + "".join(reversed(chars))


def current_request_id() -> str:
    """The id of the request being served; created lazily so error paths never lack one."""
    rid = g.get("request_id")
    if rid is None:
        rid = g.request_id = new_request_id()
    return rid


class ApiError(Exception):
    """Raised anywhere in a request to answer with the marketplace error envelope."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        fields: dict[str, str] | None = None,
        *,
        headers: dict[str, str] | None = None,
        extra: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(f"{status} {code}: {message}")
        self.status = status
        self.code = code
        self.message = message
        self.fields = fields or {}
        self.headers = headers or {}
        self.extra = extra or {}


def error_response(
    status: int,
    code: str,
    message: str,
    fields: dict[str, str] | None = None,
    *,
    headers: dict[str, str] | None = None,
    extra: dict[str, Any] | None = None,
) -> Response:
    """Build ``{"error": {code, message, fields, [extra...], requestId}}``.

    Extra keys (e.g. ``existingId`` on a 409) live *inside* ``error`` so the top level of the
    envelope is always exactly one key.
    """
    body: dict[str, Any] = {"code": code, "message": message, "fields": dict(fields or {})}
    body.update(extra or {})
    body["requestId"] = current_request_id()
    resp = jsonify({"error": body})
    resp.status_code = status
    for name, value in (headers or {}).items():
        resp.headers[name] = value
    return resp


_HTTP_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "payload_too_large",
    415: "unsupported_media_type",
    422: "validation_failed",
    429: "rate_limited",
    500: "internal_error",
    502: "bad_gateway",
    503: "service_unavailable",
}


_HTTP_MESSAGES = {
    404: "No such endpoint.",
    405: "Method not allowed for this endpoint.",
    413: "Request body too large.",
}


def code_for_status(status: int) -> str:
    return _HTTP_CODES.get(status, "error")


def install_common(app: Flask) -> None:
    """Request ids on every response and the envelope for every error, app-wide.

    Installed before any marketplace blueprint so its ``before_request`` runs first.
    """

    @app.before_request
    def _assign_request_id() -> None:
        g.request_id = new_request_id()

    @app.after_request
    def _expose_request_id(resp: Response) -> Response:
        resp.headers["X-Request-Id"] = current_request_id()
        return resp

    @app.errorhandler(ApiError)
    def _api_error(err: ApiError) -> Response:
        return error_response(err.status, err.code, err.message, err.fields, headers=err.headers, extra=err.extra)

    @app.errorhandler(HTTPException)
    def _http_error(err: HTTPException) -> Response:
        status = err.code or 500
        headers = {}
        allow = err.get_response().headers.get("Allow")
        if allow:
            headers["Allow"] = allow
        # Werkzeug's stock text talks about "entering the URL manually"; APIs say less.
        message = _HTTP_MESSAGES.get(status) or err.description or err.name
        return error_response(status, code_for_status(status), message, headers=headers)

    @app.errorhandler(Exception)
    def _unexpected(err: Exception) -> Response:
        # A bug in the sandbox must still look like a marketplace 500, or clients under test
        # would see an HTML page no real marketplace sends.
        current_app.logger.exception("sandbox internal error")
        return error_response(500, "internal_error", "Internal server error.")


# --------------------------------------------------------------------------- settings


ALL_SCOPES_MARKER = "*"


@dataclass(frozen=True)
class KeySpec:
    """A seed API key: ``KEY:SHOWROOM:scope1,scope2`` on the command line / ``SANDBOX_KEYS``."""

    key: str
    showroom: str
    scopes: tuple[str, ...] = (ALL_SCOPES_MARKER,)
    name: str = ""

    @classmethod
    def parse(cls, spec: str) -> KeySpec:
        parts = spec.strip().split(":")
        if len(parts) < 2 or not parts[0] or not parts[1]:
            raise ValueError(f"key spec must be KEY:SHOWROOM[:scope1,scope2], got {spec!r}")
        key, showroom = parts[0], parts[1]
        scope_text = ":".join(parts[2:]) if len(parts) > 2 else ""
        scopes = tuple(s.strip() for s in scope_text.split(",") if s.strip())
        return cls(key=key, showroom=showroom, scopes=scopes or (ALL_SCOPES_MARKER,))


def parse_key_specs(text: str) -> list[KeySpec]:
    """Parse whitespace/semicolon-separated key specs (commas are taken by scope lists)."""
    return [KeySpec.parse(part) for part in text.replace(";", " ").split() if part]


@dataclass
class SandboxSettings:
    """Knobs shared by all marketplace emulations; most can change at runtime via
    ``POST /_sandbox/config``. Defaults are production-faithful (Carzle's published limits,
    HTTPS-only public image sources)."""

    rate_window_seconds: float = 60.0
    read_limit: int = 60
    write_limit: int = 30
    latency_ms: float = 0.0
    # Probability (0..1) that an authenticated API request fails with 500/502/503 before it
    # touches any state.
    fault_rate: float = 0.0
    seed: int | None = None
    require_https_images: bool = True
    allow_private_image_hosts: bool = False
    fetch_images: bool = True
    # Reject payloads whose bytes are not JPEG/PNG/GIF/WebP/AVIF/HEIC, since the real service
    # re-encodes to WebP and would fail on anything else.
    verify_image_format: bool = True
    image_timeout_seconds: float = 5.0
    image_max_bytes: int = 25 * 1024 * 1024
    max_redirects: int = 3
    # Unknown payload keys are rejected so that typos (``mileage`` for ``kilometers``) surface
    # in development instead of silently dropping data.
    reject_unknown_fields: bool = True
    validate_make_model: bool = True
    carzle_keys: list[KeySpec] = field(default_factory=list)
    # Seeds for the other emulations, as plain strings each module parses (formats in
    # sandbox/README.md); re-applied on every reset like ``carzle_keys``.
    roadster_dealers: list[str] = field(default_factory=list)  # SLUG[:PARTNER_ID[:BASE64_CIPHER_KEY]]
    roadster_keys: list[str] = field(default_factory=list)  # KEY[:DEALER_SLUG]
    carfluence_users: list[str] = field(default_factory=list)  # EMAIL:PASSWORD[:GROUP]
    carfluence_keys: list[str] = field(default_factory=list)  # cf_live_KEY[:GROUP[:scope1,scope2]]

    # Carslink partner keys and Auterio keys, ``KEY[:ACCOUNT[:NAME]]`` (see sandbox/feeds.py).
    carslink_keys: list[str] = field(default_factory=list)
    auterio_keys: list[str] = field(default_factory=list)
    # Auterio: refuse a whole batch when any vehicle is invalid (400, nothing written) instead
    # of importing the valid ones and reporting the rest; see sandbox/README.md.
    auterio_atomic_batches: bool = False

    # Fields that cannot be changed through the runtime config endpoint.
    _STATIC = frozenset({
        "carzle_keys", "carslink_keys", "auterio_keys",
        "roadster_dealers", "roadster_keys", "carfluence_users", "carfluence_keys",
    })

    def __post_init__(self) -> None:
        errors: dict[str, str] = {}
        for f in fields(self):
            if f.name in self._STATIC:
                continue
            try:
                setattr(self, f.name, _coerce_setting(f.name, getattr(self, f.name), str(f.type)))
            except ValueError as exc:
                errors[f.name] = str(exc)
        if errors:
            raise SettingsError(errors)
        # Accept "KEY:SHOWROOM:scopes" strings for convenience in tests and the CLI.
        self.carzle_keys = [k if isinstance(k, KeySpec) else KeySpec.parse(k) for k in self.carzle_keys]
        self.carslink_keys = list(self.carslink_keys)
        self.auterio_keys = list(self.auterio_keys)

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for f in fields(self):
            value = getattr(self, f.name)
            if f.name == "carzle_keys":
                value = [
                    {"key": k.key, "showroom": k.showroom, "scopes": list(k.scopes), "name": k.name} for k in value
                ]
            out[f.name] = value
        return out

    def update(self, changes: dict[str, Any]) -> set[str]:
        """Validate and apply ``changes`` atomically; return the names that changed value.

        Raises ``ValueError`` describing every bad entry, leaving settings untouched.
        """
        types = {f.name: str(f.type) for f in fields(self)}
        errors: dict[str, str] = {}
        coerced: dict[str, Any] = {}
        for raw_name, value in changes.items():
            name = setting_name(raw_name)
            if name not in types or name in self._STATIC:
                errors[raw_name] = "unknown or read-only setting"
                continue
            try:
                coerced[name] = _coerce_setting(name, value, types[name])
            except ValueError as exc:
                errors[raw_name] = str(exc)
        if errors:
            raise SettingsError(errors)
        changed = {n for n, v in coerced.items() if getattr(self, n) != v}
        for name, value in coerced.items():
            setattr(self, name, value)
        return changed


class SettingsError(ValueError):
    def __init__(self, errors: dict[str, str]) -> None:
        super().__init__("; ".join(f"{k}: {v}" for k, v in errors.items()))
        self.errors = errors


_SETTING_ALIASES = {"window": "rate_window_seconds", "window_seconds": "rate_window_seconds"}


def setting_name(name: str) -> str:
    """Accept camelCase and the CLI's short names (``window``, ``faultRate``) for settings."""
    snake = re.sub(r"(?<=[a-z0-9])([A-Z])", r"_\1", name).lower().replace("-", "_")
    return _SETTING_ALIASES.get(snake, snake)


def _coerce_setting(name: str, value: Any, declared: str) -> Any:
    # Dispatch on the declared annotation, not the current value, so a setting constructed
    # with an int (``rate_window_seconds=1``) still accepts floats later.
    if declared == "int | None":
        if value is None or (isinstance(value, int) and not isinstance(value, bool)):
            return value
        raise ValueError("must be an integer or null")
    if declared == "bool":
        if not isinstance(value, bool):
            raise ValueError("must be a boolean")
        return value
    if declared == "int":
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise ValueError("must be a non-negative integer")
        return value
    if declared == "float":
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            raise ValueError("must be a number")
        value = float(value)
        if name == "fault_rate" and not 0.0 <= value <= 1.0:
            raise ValueError("must be between 0 and 1")
        if name in ("rate_window_seconds", "image_timeout_seconds") and value <= 0:
            raise ValueError("must be greater than 0")
        if value < 0:
            raise ValueError("must not be negative")
        return value
    raise ValueError("not settable")


# --------------------------------------------------------------------------- rate limiting


@dataclass(frozen=True)
class RateDecision:
    allowed: bool
    limit: int
    remaining: int
    reset_epoch: int  # integer epoch seconds when the current window ends (rounded up)

    def headers(self) -> dict[str, str]:
        return {
            "X-RateLimit-Limit": str(self.limit),
            "X-RateLimit-Remaining": str(self.remaining),
            "X-RateLimit-Reset": str(self.reset_epoch),
        }

    def retry_after(self, now: float | None = None) -> int:
        return max(1, math.ceil(self.reset_epoch - (now if now is not None else time.time())))


class FixedWindowLimiter:
    """Per-(key, bucket) fixed windows that start at the first request of each bucket.

    Rounding the reset up to whole seconds means a client sleeping until ``X-RateLimit-Reset``
    always lands in a fresh window.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._windows: dict[tuple[str, str], tuple[float, int]] = {}

    def reset(self) -> None:
        with self._lock:
            self._windows.clear()

    def hit(self, key: str, bucket: str, limit: int, window: float, now: float | None = None) -> RateDecision:
        now = time.time() if now is None else now
        with self._lock:
            start, count = self._current(key, bucket, window, now)
            if count >= limit:
                self._windows[(key, bucket)] = (start, count)
                return RateDecision(False, limit, 0, math.ceil(start + window))
            count += 1
            self._windows[(key, bucket)] = (start, count)
            return RateDecision(True, limit, max(0, limit - count), math.ceil(start + window))

    def peek(self, key: str, bucket: str, limit: int, window: float, now: float | None = None) -> RateDecision:
        now = time.time() if now is None else now
        with self._lock:
            start, count = self._current(key, bucket, window, now)
            return RateDecision(count < limit, limit, max(0, limit - count), math.ceil(start + window))

    def _current(self, key: str, bucket: str, window: float, now: float) -> tuple[float, int]:
        entry = self._windows.get((key, bucket))
        if entry is None or now >= entry[0] + window:
            return now, 0
        return entry


def nominal_rate_decision(limit: int, window: float, now: float | None = None) -> RateDecision:
    """Headers for requests that count against no key (e.g. 401s): a full, untouched window."""
    now = time.time() if now is None else now
    return RateDecision(True, limit, limit, math.ceil(now + window))


# --------------------------------------------------------------------------- marketplace protocol


ControlRoute = tuple[str, str, Any, list[str]]  # (rule, endpoint, view, methods)


class Marketplace(Protocol):
    """What ``sandbox.app`` needs from a marketplace module."""

    name: str
    url_prefix: str

    def register(self, app: Flask) -> None: ...

    def control_routes(self) -> list[ControlRoute]: ...

    def reset(self) -> None: ...

    def stats(self) -> dict[str, Any]: ...

    def on_settings_changed(self, changed: set[str]) -> None: ...


def json_body_or_error(raw: bytes) -> Any:
    """Decode a JSON request body or raise a 400 envelope; empty bodies decode to ``None``."""
    if not raw or not raw.strip():
        return None
    try:
        return json.loads(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        raise ApiError(400, "bad_request", f"Request body is not valid JSON: {exc}") from exc
