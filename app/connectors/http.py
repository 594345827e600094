"""HTTP for connectors: the one shared session, the transport protocol, the attempt-log
``Call``, the ONE reader of rate-limit reset headers, and response classification.

Every outbound marketplace call goes through :func:`shared_session` with explicit timeouts;
the engine wraps it with a rate budget (``app.sync.transport``), tests and scripts use
:class:`SimpleTransport`.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from email.utils import parsedate_to_datetime
from typing import Any, Literal, NamedTuple, Protocol, runtime_checkable
from urllib.parse import urlsplit

import requests

from app.connectors.errors import (
    Conflict,
    ConnectorError,
    FixInput,
    NotFound,
    Reauthenticate,
    RetryAt,
    RetryLater,
)
from app.messages import flatten_messages

Kind = Literal["read", "write"]
DEFAULT_TIMEOUT: tuple[float, float] = (3.05, 10)


class Call(NamedTuple):
    """One HTTP exchange, for the attempt log. ``status`` is None when no response came.

    ``operation`` is the connector's own name for what the call did (Carzle: create, update,
    delete, read; a feed: ``feed:partial``), so the log never guesses it from the method."""

    method: str
    path: str
    status: int | None
    duration_ms: int
    request_id: str | None
    operation: str = "read"


# --------------------------------------------------------------------------- session, transport

_session: requests.Session | None = None


def shared_session() -> requests.Session:
    """One pooled session per process for every outbound marketplace call (built lazily:
    no I/O at import)."""
    global _session
    if _session is None:
        session = requests.Session()
        # Marketplace calls must not be steered by ambient proxy settings.
        session.trust_env = False
        session.headers["User-Agent"] = "Forecourt/1.0 (+listing sync)"
        adapter = requests.adapters.HTTPAdapter(pool_connections=20, pool_maxsize=20, max_retries=0)
        session.mount("http://", adapter)
        session.mount("https://", adapter)
        _session = session
    return _session


@runtime_checkable
class Transport(Protocol):
    """How connectors reach the network. ``kind`` lets the engine apply read/write budgets."""

    def request(self, kind: Kind, method: str, url: str, **kwargs: Any) -> requests.Response: ...


def send(session: requests.Session, method: str, url: str, timeout: Any, **kwargs: Any) -> requests.Response:
    """One request with an explicit timeout; network failures become ``RetryLater``."""
    kwargs.setdefault("timeout", timeout)
    # A redirect could carry the Authorization header somewhere unexpected; APIs don't
    # redirect in normal operation, so a 3xx is surfaced instead of followed.
    kwargs.setdefault("allow_redirects", False)
    try:
        return session.request(method, url, **kwargs)
    except requests.Timeout as exc:
        raise RetryLater(f"{method} {path_of(url)} timed out") from exc
    except requests.ConnectionError as exc:
        raise RetryLater(f"{method} {path_of(url)} could not connect") from exc


class SimpleTransport:
    """A plain transport with explicit timeouts and no rate limiting (the engine's adds it)."""

    def __init__(
        self,
        session: requests.Session | None = None,
        timeout: float | tuple[float, float] = DEFAULT_TIMEOUT,
    ) -> None:
        self.session = session or shared_session()
        self.timeout = timeout

    def request(self, kind: Kind, method: str, url: str, **kwargs: Any) -> requests.Response:
        return send(self.session, method, url, self.timeout, **kwargs)


def path_of(url: str) -> str:
    parts = urlsplit(url)
    return parts.path + (f"?{parts.query}" if parts.query else "")


# --------------------------------------------------------------------------- reset headers


RESET_MAX_SECONDS = 900.0  # RATE_RESET_MAX_SECONDS's default: 15 minutes


def clamp_reset(at: float, now: float, maximum: float = RESET_MAX_SECONDS) -> float:
    """The marketplace's reset, within [now + 1 s, now + ``maximum``].

    Retrying before the reset only earns another 429 (and Carzle pauses keys that keep
    trying), so the reset is honoured as given; a past or zero one (clock skew) must not
    become an instant retry loop, and a garbled huge one must not hold a key for ever."""
    return min(max(at, now + 1.0), now + max(maximum, 1.0))


def read_reset(value: str | None, now: float) -> float | None:
    """``X-RateLimit-Reset`` as epoch seconds: read as epoch seconds when it looks like one
    (>= 1e9), epoch milliseconds (>= 1e12), otherwise seconds from now. None when absent,
    negative or unreadable. Unclamped: the engine clamps when it reschedules."""
    number = _float_or_none(value)
    if number is None or number < 0:
        return None
    if number >= 1e12:
        return number / 1000.0
    return number if number >= 1e9 else now + number


def parse_reset(value: str | None, now: float, maximum: float = RESET_MAX_SECONDS) -> float | None:
    """:func:`read_reset`, clamped (what the rate budget learns from a response)."""
    at = read_reset(value, now)
    return None if at is None else clamp_reset(at, now, maximum)


def retry_after(value: str | None, now: float) -> float | None:
    """``Retry-After`` (seconds or an HTTP date) as a delay in seconds; None when absent."""
    if value is None:
        return None
    seconds = _float_or_none(value)
    if seconds is not None:
        return max(0.0, seconds)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - now)


def reset_at(headers: Mapping[str, str], now: float, window: float) -> float:
    """When a rate-limited caller may come back: ``X-RateLimit-Reset``, then ``Retry-After``,
    then a full window from now."""
    at = read_reset(headers.get("X-RateLimit-Reset"), now)
    if at is not None:
        return at
    delay = retry_after(headers.get("Retry-After"), now)
    return now + (window if delay is None else delay)


def _float_or_none(raw: str | None) -> float | None:
    if raw is None:
        return None
    try:
        return float(str(raw).strip())
    except ValueError:
        return None


# --------------------------------------------------------------------------- responses


def json_or_none(response: requests.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        return None


def request_id_of(response: requests.Response, body: Any = None) -> str | None:
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


def classify(response: requests.Response, name: str, window: float) -> None:
    """Raise the exception that tells the caller what to do about a non-2xx response.

    Reads the common ``{"error": {"code", "message", "fields", "requestId"}}`` envelope;
    a connector whose remote answers differently overrides ``Connector.classify``."""
    status = response.status_code
    if status < 300:
        return
    body = json_or_none(response)
    error = body.get("error") if isinstance(body, Mapping) else None
    error = error if isinstance(error, Mapping) else {}
    message = str(error.get("message") or f"HTTP {status}")
    code = str(error["code"]) if error.get("code") else None
    raw_fields = error.get("fields")
    fields = flatten_messages(raw_fields) if isinstance(raw_fields, Mapping) else {}
    common: dict[str, Any] = {"status": status, "request_id": request_id_of(response, body), "code": code}
    exc = _classified(status, name, message, fields, common, response, window)
    exc.details = dict(error)
    raise exc


def _classified(
    status: int,
    name: str,
    message: str,
    fields: dict[str, str],
    common: dict[str, Any],
    response: requests.Response,
    window: float,
) -> ConnectorError:
    if status in (401, 403):
        return Reauthenticate(f"{name} rejected the credentials: {message}", fields=fields, **common)
    if status == 404:
        return NotFound(f"{name}: not found: {message}", fields=fields, **common)
    if status == 409:
        return Conflict(f"{name}: conflict: {message}", fields=fields, **common)
    if status in (400, 422):
        return FixInput(f"{name} rejected the data: {message}", fields=fields, **common)
    now = time.time()
    if status == 429:
        at = reset_at(response.headers, now, window)
        return RetryAt(f"{name} rate limit reached: {message}", at=at, **common)
    if status == 408 or status >= 500:
        delay = retry_after(response.headers.get("Retry-After"), now)
        return RetryLater(f"{name} failed temporarily: {message}", delay=delay, **common)
    return ConnectorError(f"{name}: unexpected HTTP {status}: {message}", fields=fields, **common)
