"""The transport the engine gives connectors: one shared session, explicit timeouts and
the shared rate budget (connectors record their own calls for the attempt log)."""

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


RESET_MAX_SECONDS = 900.0  # RATE_RESET_MAX_SECONDS's default: 15 minutes


def reset_max_seconds() -> float:
    """RATE_RESET_MAX_SECONDS from the app's settings (its default outside an app)."""
    from flask import current_app, has_app_context

    if has_app_context():
        settings = current_app.config.get("FORECOURT")
        if settings is not None:
            return settings.rate_reset_max_seconds
    return RESET_MAX_SECONDS


def parse_reset(value: str | None, now: float, maximum: float | None = None) -> float | None:
    """X-RateLimit-Reset as epoch seconds, epoch milliseconds or seconds from now, clamped
    by ``clamp_reset``."""
    if not value:
        return None
    try:
        number = float(value)
    except ValueError:
        return None
    if number < 0:
        return None
    if number >= 1e12:
        number /= 1000.0
    at = number if number >= 1e9 else now + number
    return clamp_reset(at, now, maximum)


def clamp_reset(at: float, now: float, maximum: float | None = None) -> float:
    """The marketplace's reset, within [now + 1 s, now + ``maximum``].

    Retrying before the reset only earns another 429 (and Carzle pauses keys that keep
    trying), so the reset is honoured as given; a past or zero one (clock skew) must not
    become an instant retry loop, and a garbled huge one must not hold a key for ever, so
    it is capped at RATE_RESET_MAX_SECONDS (15 minutes by default)."""
    cap = reset_max_seconds() if maximum is None else maximum
    return min(max(at, now + 1.0), now + max(cap, 1.0))


@dataclass
class BudgetedTransport:
    budget: RateBudget
    timeout: tuple[float, float] = (3.05, 20.0)
    session: requests.Session = field(default_factory=shared_session)

    def request(self, kind: str, method: str, url: str, **kwargs: Any) -> requests.Response:
        granted, reset = self.budget.acquire(kind)
        if not granted:
            raise RetryAt(f"{kind} budget for this key is spent until the window resets", at=reset)
        kwargs.setdefault("timeout", self.timeout)
        kwargs.setdefault("allow_redirects", False)
        path = urlsplit(url).path
        try:
            response = self.session.request(method, url, **kwargs)
        except requests.Timeout as exc:
            raise RetryLater(f"{method} {path} timed out") from exc
        except requests.ConnectionError as exc:
            raise RetryLater(f"{method} {path} could not connect") from exc
        self._learn(kind, response)
        return response

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
