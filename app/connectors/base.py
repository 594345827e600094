"""The connector framework: errors that tell the caller what to do, transport, cache, registry.

A connector turns a canonical :class:`~app.listings.vehicle.Vehicle` into calls on one
marketplace's API. It never decides *when* to retry or pause: it raises an exception named by
what the caller (the sync engine) must do next:

=================  ==========================================================================
``RetryLater``     transient (5xx, 408, timeout, connection error): back off and try again.
``RetryAt``        rate limited (429): reschedule at ``.at`` (epoch seconds); not an attempt.
``FixInput``       the data is wrong (422/400 or local validation): no retry until it changes.
``Reauthenticate`` credentials rejected (401/403) or missing: pause the destination.
``NotFound``       the remote object is gone (404); connectors mostly handle it themselves.
``Conflict``       409; connectors mostly handle it themselves.
``ConnectorError`` anything else (an unexpected 4xx): a permanent failure worth a human look.
=================  ==========================================================================

Connectors never import Flask; everything they need (HTTP, cache) is injected.
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import (
    Any,
    ClassVar,
    Literal,
    NamedTuple,
    Protocol,
    TypeVar,
    runtime_checkable,
)
from urllib.parse import urlsplit

import requests

from app.listings.vehicle import Vehicle

log = logging.getLogger(__name__)

Kind = Literal["read", "write"]
Operation = Literal["create", "update", "delete", "noop", "skip"]


# --------------------------------------------------------------------------- errors


class ConnectorError(Exception):
    """Base of every connector failure; carries what the remote said for the attempt log."""

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        request_id: str | None = None,
        fields: Mapping[str, str] | None = None,
        code: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.status = status
        self.request_id = request_id
        self.fields: dict[str, str] = dict(fields or {})
        self.code = code
        # The remote's whole error object (e.g. Carzle's ``existingId`` on a 409).
        self.details: dict[str, Any] = {}
        # Filled in by Connector.operation() so a failed attempt still logs its HTTP calls.
        self.calls: list[Call] = []

    def to_dict(self) -> dict[str, Any]:
        """A JSON-able summary, shaped for ``SyncState.last_error``."""
        return {
            "type": type(self).__name__,
            "message": self.message,
            "status": self.status,
            "requestId": self.request_id,
            "fields": self.fields,
            "code": self.code,
        }


class RetryLater(ConnectorError):
    """Transient failure. ``delay`` is a hint in seconds; None means "use your backoff"."""

    def __init__(self, message: str, *, delay: float | None = None, **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        self.delay = delay


class RetryAt(ConnectorError):
    """Rate limited until ``at`` (epoch seconds). Must not count as a failed attempt."""

    def __init__(self, message: str, *, at: float, **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        self.at = float(at)

    def to_dict(self) -> dict[str, Any]:
        return {**super().to_dict(), "at": self.at}


class FixInput(ConnectorError):
    """The data (or site configuration) must change before a retry can succeed."""

    def __init__(self, message: str, *, fields: Mapping[str, str], **kwargs: Any) -> None:
        super().__init__(message, fields=fields, **kwargs)


class Reauthenticate(ConnectorError):
    """Credentials are missing, revoked or lack a scope: pause the destination."""


class NotFound(ConnectorError):
    """The remote object does not exist (any more)."""


class Conflict(ConnectorError):
    """The remote already has the object (409), e.g. two creates raced."""


# --------------------------------------------------------------------------- transport


@runtime_checkable
class Transport(Protocol):
    """How connectors reach the network. ``kind`` lets the engine apply read/write budgets."""

    def request(self, kind: Kind, method: str, url: str, **kwargs: Any) -> requests.Response: ...


class SimpleTransport:
    """A plain transport: explicit timeouts, network failures turned into ``RetryLater``.

    It does no rate limiting; the engine wraps or replaces it with one that does.
    """

    def __init__(
        self,
        session: requests.Session | None = None,
        timeout: float | tuple[float, float] = (3.05, 10),
    ) -> None:
        self.session = session or requests.Session()
        self.timeout = timeout

    def request(self, kind: Kind, method: str, url: str, **kwargs: Any) -> requests.Response:
        kwargs.setdefault("timeout", self.timeout)
        # A redirect could carry the Authorization header somewhere unexpected; APIs don't
        # redirect in normal operation, so a 3xx is surfaced instead of followed.
        kwargs.setdefault("allow_redirects", False)
        try:
            return self.session.request(method, url, **kwargs)
        except requests.Timeout as exc:
            raise RetryLater(f"{method} {_path_of(url)} timed out: {exc}") from exc
        except requests.ConnectionError as exc:
            raise RetryLater(f"{method} {_path_of(url)} could not connect: {exc}") from exc


def _path_of(url: str) -> str:
    parts = urlsplit(url)
    return parts.path + (f"?{parts.query}" if parts.query else "")


# --------------------------------------------------------------------------- cache


@runtime_checkable
class Cache(Protocol):
    """A small JSON cache shared by workers (reference data such as enums and contacts)."""

    def get_json(self, key: str) -> Any | None: ...

    def set_json(self, key: str, value: Any, ttl: int) -> None: ...


class RedisCache:
    """``Cache`` on Redis. Redis trouble degrades to a cache miss instead of failing a sync."""

    def __init__(self, redis_client: Any, prefix: str = "forecourt:cache:") -> None:
        self.redis = redis_client
        self.prefix = prefix

    def get_json(self, key: str) -> Any | None:
        try:
            raw = self.redis.get(self.prefix + key)
        except Exception:  # any client error is a miss, never a failed sync
            log.warning("cache read failed for %s", key, exc_info=True)
            return None
        if raw is None:
            return None
        try:
            return json.loads(raw)
        except (TypeError, ValueError):
            return None

    def set_json(self, key: str, value: Any, ttl: int) -> None:
        try:
            self.redis.set(self.prefix + key, json.dumps(value), ex=max(1, int(ttl)))
        except Exception:
            log.warning("cache write failed for %s", key, exc_info=True)


class MemoryCache:
    """In-process ``Cache`` for tests and one-off scripts."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._data: dict[str, tuple[float, str]] = {}
        self._clock = clock

    def get_json(self, key: str) -> Any | None:
        entry = self._data.get(key)
        if entry is None:
            return None
        expires, raw = entry
        if self._clock() >= expires:
            del self._data[key]
            return None
        return json.loads(raw)

    def set_json(self, key: str, value: Any, ttl: int) -> None:
        self._data[key] = (self._clock() + ttl, json.dumps(value))


# --------------------------------------------------------------------------- data


@dataclass(frozen=True)
class RateLimits:
    """The marketplace's published per-key budget; the engine enforces it across workers."""

    reads: int = 60
    writes: int = 30
    window: float = 60.0


class Call(NamedTuple):
    """One HTTP exchange, for the attempt log. ``status`` is None when no response came."""

    method: str
    path: str
    status: int | None
    duration_ms: int
    request_id: str | None


@dataclass
class RemoteState:
    """What we know about a car at one destination, as stored after the last success."""

    remote_id: str | None = None
    external_ref: str | None = None
    fingerprint: str | None = None
    payload: dict[str, Any] | None = None  # the last full payload the remote accepted


@dataclass
class SyncOutcome:
    """Result of one successful operation; store ``payload``/``fingerprint`` as the new state."""

    operation: Operation
    remote_id: str | None = None
    external_ref: str | None = None
    payload: dict[str, Any] | None = None
    fingerprint: str | None = None
    http_status: int | None = None
    request_id: str | None = None
    warnings: list[str] = field(default_factory=list)
    calls: list[Call] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["calls"] = [list(call) for call in self.calls]
        return data

    def remote_state(self) -> RemoteState | None:
        """The state to persist, or None when the remote object is gone (after a delete)."""
        if self.operation == "delete":
            return None
        return RemoteState(self.remote_id, self.external_ref, self.fingerprint, self.payload)


# --------------------------------------------------------------------------- payload helpers


def canonical_json(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)


def fingerprint(payload: Mapping[str, Any]) -> str:
    """sha256 of the payload's canonical JSON: equal payloads, equal fingerprints."""
    return hashlib.sha256(canonical_json(payload).encode("utf-8")).hexdigest()


def diff_payload(
    old: Mapping[str, Any],
    new: Mapping[str, Any],
    *,
    clear_with_null: Iterable[str] = ("contactId",),
) -> dict[str, Any]:
    """The top-level fields of ``new`` that differ from ``old``: the body of a partial update.

    * Values are compared whole (canonical JSON, so ``1`` vs ``True`` or key order don't
      confuse it); a changed list such as ``imageUrls`` or ``features`` is sent whole.
    * A field present in ``old`` but absent from ``new`` is **omitted**, not nulled: marketplaces
      reject nulls and empty strings for most fields, and on Carzle a field we stop sending may
      hold a value the dealer or enrichment set, which we must not wipe.
    * Except the fields in ``clear_with_null`` (Carzle: ``contactId``), where null is the
      documented way to clear an assignment.
    """
    changed: dict[str, Any] = {}
    for key, value in new.items():
        if key not in old or canonical_json(old[key]) != canonical_json(value):
            changed[key] = value
    for key in clear_with_null:
        if key in old and key not in new and old[key] is not None:
            changed[key] = None
    return changed


# --------------------------------------------------------------------------- connector


def _now() -> float:
    return time.time()


class Connector:
    """Base class for marketplace connectors; one instance per job (it is not thread-safe)."""

    slug: ClassVar[str] = ""
    display_name: ClassVar[str] = ""
    default_base_url: ClassVar[str] = ""
    credential_fields: ClassVar[tuple[str, ...]] = ()
    rate_limits: ClassVar[RateLimits] = RateLimits()
    # Options the connector reads; callers merging site and destination options may filter
    # to these. Empty means "pass everything".
    option_names: ClassVar[tuple[str, ...]] = ()
    # Backoff the engine should use for RetryLater without a delay; attempts = len + 1.
    retry_backoff: ClassVar[tuple[float, ...]] = (30.0, 120.0, 600.0)
    user_agent: ClassVar[str] = "Forecourt/1.0"
    # Photo rules checked before anything is sent (Carslink: at least 4, all HTTPS).
    min_images: ClassVar[int] = 0
    https_images_only: ClassVar[bool] = False

    def __init__(
        self,
        *,
        base_url: str | None = None,
        credentials: Mapping[str, str],
        options: Mapping[str, Any] | None = None,
        transport: Transport,
        cache: Cache,
    ) -> None:
        self.base_url = (base_url or self.default_base_url).rstrip("/")
        self.credentials = dict(credentials or {})
        self.options: dict[str, Any] = dict(options or {})
        self.transport = transport
        self.cache = cache
        self.calls: list[Call] = []
        missing = [f for f in self.credential_fields if not str(self.credentials.get(f) or "")]
        if missing:
            raise Reauthenticate(
                f"{self.display_name or self.slug}: missing credential(s): {', '.join(missing)}",
                fields={name: "required" for name in missing},
            )
        problems = self.validate_options(self.options)
        if problems:
            raise FixInput(
                f"{self.display_name or self.slug}: invalid destination options", fields=problems
            )

    # ---- hooks ----------------------------------------------------------------------------

    @classmethod
    def validate_options(cls, options: Mapping[str, Any]) -> dict[str, str]:
        """Problems with the destination's options, keyed by option name (empty when fine)."""
        return {}

    def auth_headers(self) -> dict[str, str]:
        return {}

    def check_credentials(self) -> dict[str, Any]:
        """Live check of the credentials; returns what the remote says about the account."""
        raise NotImplementedError

    def build_payload(self, vehicle: Vehicle, *, creating: bool) -> tuple[dict[str, Any], list[str]]:
        """Map a vehicle to the remote's full payload; returns (payload, warnings)."""
        raise NotImplementedError

    def check_images(self, vehicle: Vehicle) -> None:
        """Raise FixInput when the car's usable photos cannot meet this marketplace's rules."""
        urls = [getattr(image, "url", None) or "" for image in vehicle.images or []]
        if self.https_images_only:
            urls = [url for url in urls if url.lower().startswith("https://")]
        if len(urls) < self.min_images:
            name = self.display_name or self.slug
            raise FixInput(
                f"{name} needs at least {self.min_images} {'HTTPS ' if self.https_images_only else ''}photos; "
                f"this car has {len(urls)} usable",
                fields={"images": f"at least {self.min_images} required, {len(urls)} usable"},
            )

    def upsert(
        self,
        vehicle: Vehicle,
        state: RemoteState | None,
        *,
        previous_payload: dict[str, Any] | None = None,
    ) -> SyncOutcome:
        raise NotImplementedError

    def delete(self, vehicle_ref: Vehicle | str | None, state: RemoteState | None) -> SyncOutcome:
        raise NotImplementedError

    def list_remote(self, updated_since: datetime | None = None) -> Iterator[dict[str, Any]]:
        raise NotImplementedError

    def adopt(self, local_vehicles: Iterable[Vehicle], *args: Any, **kwargs: Any) -> list[Any]:
        raise NotImplementedError

    # ---- HTTP ------------------------------------------------------------------------------

    def url(self, path: str) -> str:
        return self.base_url + path

    def request_id_of(self, response: requests.Response, body: Any = None) -> str | None:
        for header in ("X-Request-Id", "X-Request-ID", "Request-Id"):
            if response.headers.get(header):
                return response.headers[header]
        if isinstance(body, Mapping):
            error = body.get("error")
            if isinstance(error, Mapping) and error.get("requestId"):
                return str(error["requestId"])
            if body.get("requestId"):
                return str(body["requestId"])
        return None

    def request(
        self,
        kind: Kind,
        method: str,
        path: str,
        *,
        json_body: Any = None,
        params: Mapping[str, Any] | None = None,
    ) -> requests.Response:
        """Send one request, record it in ``self.calls``, and ``classify`` the response."""
        headers = {"Accept": "application/json", "User-Agent": self.user_agent}
        headers.update(self.auth_headers())
        kwargs: dict[str, Any] = {"headers": headers}
        if json_body is not None:
            kwargs["json"] = json_body
        if params:
            kwargs["params"] = dict(params)
        started = time.monotonic()
        try:
            response = self.transport.request(kind, method, self.url(path), **kwargs)
        except RetryAt:
            # The engine's transport refuses over-budget requests before sending: no call.
            raise
        except ConnectorError:
            self.calls.append(Call(method, path, None, _ms_since(started), None))
            raise
        except requests.RequestException as exc:
            # A transport other than SimpleTransport may let these through.
            self.calls.append(Call(method, path, None, _ms_since(started), None))
            raise RetryLater(f"{method} {path} failed: {exc}") from exc
        self.calls.append(
            Call(method, path, response.status_code, _ms_since(started), self.request_id_of(response))
        )
        if response.status_code >= 300:
            self.classify(response)
        return response

    def classify(self, response: requests.Response) -> None:
        """Raise the exception that tells the caller what to do about a non-2xx response."""
        status = response.status_code
        if status < 300:
            return
        body = _json_or_none(response)
        error = body.get("error") if isinstance(body, Mapping) else None
        error = error if isinstance(error, Mapping) else {}
        message = str(error.get("message") or f"HTTP {status}")
        code = str(error["code"]) if error.get("code") else None
        raw_fields = error.get("fields")
        fields = {str(k): str(v) for k, v in raw_fields.items()} if isinstance(raw_fields, Mapping) else {}
        common: dict[str, Any] = {
            "status": status,
            "request_id": self.request_id_of(response, body),
            "code": code,
        }
        name = self.display_name or self.slug or "remote"
        exc = self._classified(status, name, message, fields, common, response)
        exc.details = dict(error)
        raise exc

    def _classified(
        self,
        status: int,
        name: str,
        message: str,
        fields: dict[str, str],
        common: dict[str, Any],
        response: requests.Response,
    ) -> ConnectorError:
        if status in (401, 403):
            return Reauthenticate(f"{name} rejected the credentials: {message}", fields=fields, **common)
        if status == 404:
            return NotFound(f"{name}: not found: {message}", fields=fields, **common)
        if status == 409:
            return Conflict(f"{name}: conflict: {message}", fields=fields, **common)
        if status in (400, 422):
            return FixInput(f"{name} rejected the data: {message}", fields=fields, **common)
        if status == 429:
            return RetryAt(f"{name} rate limit reached: {message}", at=self.reset_at(response), **common)
        if status == 408 or status >= 500:
            return RetryLater(
                f"{name} failed temporarily: {message}", delay=_retry_after(response), **common
            )
        return ConnectorError(f"{name}: unexpected HTTP {status}: {message}", fields=fields, **common)

    def reset_at(self, response: requests.Response, now: float | None = None) -> float:
        """When a rate-limited request may be retried, as epoch seconds.

        ``X-RateLimit-Reset`` is read as epoch seconds when it looks like one (>= 1e9), as
        epoch milliseconds when >= 1e12, and otherwise as seconds from now; then
        ``Retry-After``; then a full rate window.
        """
        now = _now() if now is None else now
        raw = response.headers.get("X-RateLimit-Reset")
        value = _float_or_none(raw)
        if value is not None and value >= 0:
            if value >= 1e12:
                return value / 1000.0
            if value >= 1e9:
                return value
            return now + value
        delay = _retry_after(response)
        if delay is not None:
            return now + delay
        return now + self.rate_limits.window

    @contextmanager
    def operation(self) -> Iterator[list[Call]]:
        """Scope ``self.calls`` to one public operation; failures carry the calls made."""
        self.calls = []
        try:
            yield self.calls
        except ConnectorError as exc:
            exc.calls = list(self.calls)
            raise

    def outcome(self, operation: Operation, **kwargs: Any) -> SyncOutcome:
        """A SyncOutcome whose status/request id/calls come from the last call made."""
        last = self.calls[-1] if self.calls else None
        kwargs.setdefault("http_status", last.status if last else None)
        kwargs.setdefault("request_id", last.request_id if last else None)
        return SyncOutcome(operation=operation, calls=list(self.calls), **kwargs)


def _ms_since(started: float) -> int:
    return int((time.monotonic() - started) * 1000)


def _json_or_none(response: requests.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        return None


def _float_or_none(raw: str | None) -> float | None:
    if raw is None:
        return None
    try:
        return float(str(raw).strip())
    except ValueError:
        return None


def _retry_after(response: requests.Response) -> float | None:
    raw = response.headers.get("Retry-After")
    if raw is None:
        return None
    seconds = _float_or_none(raw)
    if seconds is not None:
        return max(0.0, seconds)
    from email.utils import parsedate_to_datetime

    try:
        when = parsedate_to_datetime(raw)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - _now())


# --------------------------------------------------------------------------- registry

_REGISTRY: dict[str, type[Connector]] = {}
C = TypeVar("C", bound=type[Connector])


def register(cls: C) -> C:
    """Class decorator: make a connector available under its ``slug``."""
    if not cls.slug:
        raise ValueError(f"{cls.__name__} has no slug")
    existing = _REGISTRY.get(cls.slug)
    # Same qualified name means a module reload, not a clash.
    if existing is not None and (existing.__module__, existing.__qualname__) != (
        cls.__module__,
        cls.__qualname__,
    ):
        raise ValueError(f"connector slug {cls.slug!r} already registered by {existing!r}")
    _REGISTRY[cls.slug] = cls
    return cls


def get_connector_class(slug: str) -> type[Connector]:
    """The connector class for a marketplace slug; KeyError when unknown."""
    try:
        return _REGISTRY[slug]
    except KeyError:
        raise KeyError(f"no connector registered for {slug!r}; known: {available()}") from None


def available() -> list[str]:
    """Registered slugs, sorted."""
    return sorted(_REGISTRY)
