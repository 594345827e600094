"""The transport the engine gives connectors: one shared session, explicit timeouts,
the shared rate budget, and a record of every call for the attempt log."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import requests

from app.connectors.base import RetryAt, RetryLater
from app.sync.budget import RateBudget

_session: requests.Session | None = None


def shared_session() -> requests.Session:
    """One pooled session per process for every outbound marketplace call."""
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


def parse_reset(value: str | None, now: float) -> float | None:
    """X-RateLimit-Reset comes as epoch seconds or as seconds from now; accept both."""
    if not value:
        return None
    try:
        number = float(value)
    except ValueError:
        return None
    return number if number > 1_000_000_000 else now + number


@dataclass
class RecordedCall:
    method: str
    path: str
    status: int | None
    duration_ms: float
    request_id: str | None


@dataclass
class BudgetedTransport:
    budget: RateBudget
    timeout: tuple[float, float] = (3.05, 20.0)
    session: requests.Session = field(default_factory=shared_session)
    calls: list[RecordedCall] = field(default_factory=list)

    def request(self, kind: str, method: str, url: str, **kwargs: Any) -> requests.Response:
        granted, reset = self.budget.acquire(kind)
        if not granted:
            raise RetryAt(f"{kind} budget for this key is spent until the window resets", at=reset)
        kwargs.setdefault("timeout", self.timeout)
        kwargs.setdefault("allow_redirects", False)
        path = urlsplit(url).path
        started = time.perf_counter()
        try:
            response = self.session.request(method, url, **kwargs)
        except requests.Timeout as exc:
            self._record(method, path, None, started, None)
            raise RetryLater(f"{method} {path} timed out") from exc
        except requests.ConnectionError as exc:
            self._record(method, path, None, started, None)
            raise RetryLater(f"{method} {path} could not connect") from exc
        request_id = response.headers.get("X-Request-Id")
        self._record(method, path, response.status_code, started, request_id)
        self._learn(kind, response)
        return response

    def _record(self, method: str, path: str, status: int | None, started: float, rid: str | None) -> None:
        self.calls.append(RecordedCall(method, path, status, round((time.perf_counter() - started) * 1000, 2), rid))

    def _learn(self, kind: str, response: requests.Response) -> None:
        now = time.time()
        reset = parse_reset(response.headers.get("X-RateLimit-Reset"), now)
        if response.status_code == 429:
            self.budget.hold_until(reset or now + self.budget.limits.window, now)
            return
        remaining = response.headers.get("X-RateLimit-Remaining")
        if remaining is not None and reset is not None:
            try:
                self.budget.observe(kind, int(remaining), reset, now)
            except ValueError:
                pass
