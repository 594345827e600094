"""What the feed-style marketplaces (Carslink, Auterio) share: one ingest endpoint behind a
single API key, a controllable clock, latency and fault injection, per-key counters and the
control routes to drive them.

Each marketplace subclasses :class:`FeedMarketplace` and supplies how a key is read from the
request (``credential``), how its errors look (``error_response``), its ingest routes and its
state dump. Requests run: latency → auth (401) → injected fault (5xx) → the endpoint. Faults
come from the shared ``fault_rate`` / ``latency_ms`` settings, or from this marketplace's
``/_sandbox/<name>/faults`` plan (outage switch, "fail the next N", failures *after* the
change was applied so a client's retry meets a batch that already landed).
"""

from __future__ import annotations

import random
import threading
import time
from collections import Counter
from dataclasses import asdict, dataclass, field
from typing import Any

from flask import Flask, Response, g, jsonify, request

from sandbox.clock import SandboxClock, iso, parse_iso
from sandbox.common import ApiError, ControlRoute, SandboxSettings, json_body_or_error

ANONYMOUS = "_anonymous"
FAULT_STATUSES = (500, 502, 503)
# Full stock feeds are large (Carslink publishes no cap): the app-wide 5 MB guard is for Carzle.
FEED_MAX_BYTES = 64 * 1024 * 1024


@dataclass
class FeedKey:
    """An API key. ``account`` owns the data written with it (Carslink: the partner
    organisation; Auterio: the dealer's stock); ``name`` is Auterio's ``source``."""

    key: str
    account: str
    name: str
    active: bool = True
    created_at: str = ""

    def to_json(self) -> dict[str, Any]:
        return {
            "key": self.key,
            "account": self.account,
            "name": self.name,
            "active": self.active,
            "createdAt": self.created_at,
        }


def parse_feed_key(spec: str, default_account: str, default_name: str) -> tuple[str, str, str]:
    """``KEY[:ACCOUNT[:NAME]]``; NAME is the rest of the string (it may hold spaces or colons)."""
    parts = spec.strip().split(":", 2)
    if not parts[0]:
        raise ValueError(f"key spec must be KEY[:ACCOUNT[:NAME]], got {spec!r}")
    account = parts[1] if len(parts) > 1 and parts[1] else default_account
    name = parts[2] if len(parts) > 2 and parts[2] else default_name
    return parts[0], account, name


@dataclass
class FaultPlan:
    """Per-marketplace fault controls on top of the shared settings."""

    outage: bool = False
    outage_status: int = 503
    fail_next: int = 0
    fail_status: int = 503
    # Apply the request, then answer ``fail_status``: the client cannot tell it landed.
    after_commit: bool = False
    fault_rate: float | None = None  # None: the shared setting
    latency_ms: float | None = None  # None: the shared setting

    def to_json(self) -> dict[str, Any]:
        return {_camel(k): v for k, v in asdict(self).items()}


_FAULT_FIELDS = frozenset(FaultPlan.__dataclass_fields__)


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(p.title() for p in rest)


def _snake(name: str) -> str:
    return "".join("_" + c.lower() if c.isupper() else c for c in name)


@dataclass
class KeyCounters:
    requests: Counter[str] = field(default_factory=Counter)
    status_codes: Counter[str] = field(default_factory=Counter)
    faults: int = 0
    events: Counter[str] = field(default_factory=Counter)  # marketplace-specific

    def to_json(self) -> dict[str, Any]:
        return {
            "requests": dict(self.requests),
            "statusCodes": dict(self.status_codes),
            "faults": self.faults,
            **dict(self.events),
        }


class FeedMarketplace:
    """Base class; see the module docstring. Subclasses set ``name``, ``url_prefix``,
    ``default_account``, ``default_key_name`` and implement the hooks below."""

    name = ""
    url_prefix = ""
    default_account = "default"
    default_key_name = ""

    def __init__(self, settings: SandboxSettings, key_specs: list[str], *, clock: SandboxClock | None = None) -> None:
        self.settings = settings
        self.clock = clock or SandboxClock()
        self._key_specs = key_specs
        self._lock = threading.RLock()
        self.reset()

    # ----------------------------------------------------------------- hooks

    def credential(self) -> tuple[str | None, str | None]:
        """(token, problem): the key sent, or why the header is unusable."""
        raise NotImplementedError

    def error_response(self, status: int, message: str, **extra: Any) -> Response:
        raise NotImplementedError

    def invalid_key_message(self) -> str:
        raise NotImplementedError

    def api_routes(self) -> list[ControlRoute]:
        """(rule relative to url_prefix, endpoint, view, methods)."""
        raise NotImplementedError

    def reset_data(self) -> None:
        raise NotImplementedError

    def state(self, args: dict[str, str]) -> dict[str, Any]:
        raise NotImplementedError

    def extra_control_routes(self) -> list[ControlRoute]:
        return []

    # ----------------------------------------------------------------- lifecycle

    def reset(self) -> None:
        """Forget data, keys, counters and the fault plan; clock back to wall time; re-seed keys."""
        with self._lock:
            self.keys: dict[str, FeedKey] = {}
            self.counters: dict[str, KeyCounters] = {}
            self.faults = FaultPlan()
            self._reseed()
            self.clock.reset()
            self.reset_data()
            for spec in self._key_specs:
                self.add_key(*parse_feed_key(spec, self.default_account, self.default_key_name))

    def _reseed(self) -> None:
        seed = self.settings.seed
        self._fault_rng = random.Random(f"{self.name}-faults:{seed}") if seed is not None else random.Random()
        self.id_rng = random.Random(f"{self.name}-ids:{seed}") if seed is not None else random.Random()

    def on_settings_changed(self, changed: set[str]) -> None:
        if "seed" in changed:
            with self._lock:
                self._reseed()

    def add_key(self, key: str | None, account: str | None = None, name: str | None = None) -> FeedKey:
        with self._lock:
            key = key or f"{self.name[:2]}_test_{self.id_rng.getrandbits(64):016x}"
            record = FeedKey(
                key, account or self.default_account, name or self.default_key_name, created_at=iso(self.clock.now())
            )
            self.keys[key] = record
            return record

    def counters_for(self, key: str) -> KeyCounters:
        found = self.counters.get(key)
        if found is None:
            found = self.counters[key] = KeyCounters()
        return found

    def stats(self) -> dict[str, Any]:
        with self._lock:
            return {"keys": {k: c.to_json() for k, c in self.counters.items()}}

    # ----------------------------------------------------------------- request pipeline

    def register(self, app: Flask) -> None:
        app.before_request(self._before_request)
        app.after_request(self._after_request)
        for rule, endpoint, view, methods in self.api_routes():
            app.add_url_rule(self.url_prefix + rule, f"{self.name}_{endpoint}", view, methods=methods)

    def _is_ours(self) -> bool:
        return request.path == self.url_prefix or request.path.startswith(self.url_prefix + "/")

    def _before_request(self) -> Response | None:
        if not self._is_ours():
            return None
        request.max_content_length = FEED_MAX_BYTES
        latency = self.faults.latency_ms if self.faults.latency_ms is not None else self.settings.latency_ms
        if latency > 0:
            time.sleep(latency / 1000.0)
        token, problem = self.credential()
        with self._lock:
            record = self.keys.get(token) if token else None
            if problem is None and (record is None or not record.active):
                problem = self.invalid_key_message()
            who = record.key if problem is None and record is not None else ANONYMOUS
            g.feed_key = who
            self.counters_for(who).requests[f"{request.method} {request.path[len(self.url_prefix) :] or '/'}"] += 1
            if problem is not None:
                return self.error_response(401, problem)
            status = self._pre_commit_fault()
            if status is not None:
                self.counters_for(who).faults += 1
        if status is not None:
            return self.error_response(status, "Injected sandbox fault; nothing was changed. Retry with backoff.")
        return None

    def _pre_commit_fault(self) -> int | None:
        plan = self.faults
        if plan.outage:
            return plan.outage_status
        if plan.fail_next > 0 and not plan.after_commit:
            plan.fail_next -= 1
            return plan.fail_status
        rate = plan.fault_rate if plan.fault_rate is not None else self.settings.fault_rate
        if rate > 0 and self._fault_rng.random() < rate:
            return self._fault_rng.choice(FAULT_STATUSES)
        return None

    def after_commit_fault(self) -> Response | None:
        """Called by an endpoint once its change is applied; a planned failure answers now."""
        with self._lock:
            plan = self.faults
            if plan.fail_next <= 0 or not plan.after_commit:
                return None
            plan.fail_next -= 1
            self.counters_for(self.current_key()).faults += 1
            status = plan.fail_status
        return self.error_response(status, "Injected sandbox fault after the request was applied.")

    def current_key(self) -> str:
        return g.get("feed_key", ANONYMOUS)

    def _after_request(self, resp: Response) -> Response:
        if self._is_ours():
            with self._lock:
                self.counters_for(self.current_key()).status_codes[str(resp.status_code)] += 1
        return resp

    # ----------------------------------------------------------------- control routes

    def control_routes(self) -> list[ControlRoute]:
        def list_keys() -> Response:
            with self._lock:
                return jsonify({"keys": [k.to_json() for k in self.keys.values()]})

        def create_key() -> Response:
            data = control_body()
            for name in ("key", "account", "name"):
                if data.get(name) is not None and (not isinstance(data[name], str) or not data[name].strip()):
                    raise ApiError(422, "validation_failed", f"Bad {name}.", {name: "must be a non-empty string"})
            if data.get("key") and (" " in data["key"] or ":" in data["key"]):
                raise ApiError(422, "validation_failed", "Bad key.", {"key": "must not contain spaces or colons"})
            record = self.add_key(data.get("key"), data.get("account"), data.get("name"))
            resp = jsonify(record.to_json())
            resp.status_code = 201
            return resp

        def deactivate_key(key: str) -> Response:
            with self._lock:
                record = self.keys.get(key)
                if record is None:
                    raise ApiError(404, "not_found", "Unknown key.")
                record.active = False
                return jsonify(record.to_json())

        def get_faults() -> Response:
            with self._lock:
                return jsonify(self.faults.to_json())

        def set_faults() -> Response:
            data = control_body()
            with self._lock:
                self.faults = _updated_plan(self.faults, data)
                return jsonify(self.faults.to_json())

        def get_clock() -> Response:
            return jsonify(self.clock.to_json())

        def set_clock() -> Response:
            data = control_body()
            errors: dict[str, str] = {}
            advance, at, speed = data.get("advanceSeconds"), data.get("now"), data.get("speed")
            if advance is not None and not _is_number(advance):
                errors["advanceSeconds"] = "must be a number"
            parsed = parse_iso(at) if isinstance(at, str) else None
            if at is not None and parsed is None:
                errors["now"] = "must be ISO 8601 with a zone"
            if speed is not None and (not _is_number(speed) or speed <= 0):
                errors["speed"] = "must be a number > 0"
            if errors:
                raise ApiError(422, "validation_failed", "Invalid clock change.", errors)
            if parsed is not None:
                self.clock.set(parsed.timestamp())
            if advance is not None:
                self.clock.advance(float(advance))
            if speed is not None:
                self.clock.set_speed(float(speed))
            return jsonify(self.clock.to_json())

        def state() -> Response:
            with self._lock:
                return jsonify(self.state(dict(request.args)))

        def stats() -> Response:
            return jsonify(self.stats())

        def reset() -> Response:
            self.reset()
            return jsonify({"reset": True})

        return [
            ("/keys", "keys", list_keys, ["GET"]),
            ("/keys", "create_key", create_key, ["POST"]),
            ("/keys/<key>", "deactivate_key", deactivate_key, ["DELETE"]),
            ("/faults", "faults", get_faults, ["GET"]),
            ("/faults", "set_faults", set_faults, ["POST", "PATCH"]),
            ("/clock", "clock", get_clock, ["GET"]),
            ("/clock", "set_clock", set_clock, ["POST"]),
            ("/state", "state", state, ["GET"]),
            ("/stats", "stats", stats, ["GET"]),
            ("/reset", "reset", reset, ["POST"]),
            *self.extra_control_routes(),
        ]


def control_body() -> dict[str, Any]:
    data = json_body_or_error(request.get_data())
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ApiError(400, "bad_request", "Request body must be a JSON object.")
    return data


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _updated_plan(plan: FaultPlan, data: dict[str, Any]) -> FaultPlan:
    """A copy of ``plan`` with ``data`` (camelCase or snake_case) applied; 422 if any is bad."""
    values = asdict(plan)
    errors: dict[str, str] = {}
    for raw, value in data.items():
        name = _snake(raw)
        if name not in _FAULT_FIELDS:
            errors[raw] = "unknown fault setting"
        elif name in ("outage", "after_commit"):
            if not isinstance(value, bool):
                errors[raw] = "must be a boolean"
        elif name in ("outage_status", "fail_status"):
            if not isinstance(value, int) or isinstance(value, bool) or not 400 <= value <= 599:
                errors[raw] = "must be an HTTP status 400..599"
        elif name == "fail_next":
            if not isinstance(value, int) or isinstance(value, bool) or value < 0:
                errors[raw] = "must be a non-negative integer"
        elif name == "fault_rate":
            if value is not None and (not _is_number(value) or not 0 <= value <= 1):
                errors[raw] = "must be between 0 and 1, or null"
        elif name == "latency_ms":
            if value is not None and (not _is_number(value) or value < 0):
                errors[raw] = "must be a number >= 0, or null"
        values[name] = value
    if errors:
        raise ApiError(422, "validation_failed", "Invalid fault plan.", errors)
    return FaultPlan(**values)
