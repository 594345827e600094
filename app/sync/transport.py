"""The transport the engine gives connectors: the shared session with explicit timeouts, plus
the shared rate budget (connectors record their own calls for the attempt log).

Reset headers are read by :mod:`app.connectors.http`, their one owner."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import requests

from app.connectors import http
from app.connectors.errors import RetryAt
from app.connectors.http import send, shared_session
from app.sync.budget import RateBudget

# clamp_reset and parse_reset are the connectors' (app.connectors.http), with the cap read
# from the app's RATE_RESET_MAX_SECONDS; the engine reschedules through them.
__all__ = ["BudgetedTransport", "clamp_reset", "parse_reset", "shared_session"]


def reset_max_seconds() -> float:
    """RATE_RESET_MAX_SECONDS from the app's settings (its default outside an app)."""
    from flask import current_app, has_app_context

    if has_app_context():
        settings = current_app.config.get("FORECOURT")
        if settings is not None:
            return settings.rate_reset_max_seconds
    return http.RESET_MAX_SECONDS


def parse_reset(value: str | None, now: float, maximum: float | None = None) -> float | None:
    return http.parse_reset(value, now, reset_max_seconds() if maximum is None else maximum)


def clamp_reset(at: float, now: float, maximum: float | None = None) -> float:
    return http.clamp_reset(at, now, reset_max_seconds() if maximum is None else maximum)


@dataclass
class BudgetedTransport:
    budget: RateBudget
    timeout: tuple[float, float] = (3.05, 20.0)
    session: requests.Session = field(default_factory=shared_session)

    def request(self, kind: str, method: str, url: str, **kwargs: Any) -> requests.Response:
        granted, reset = self.budget.acquire(kind)
        if not granted:
            raise RetryAt(f"{kind} budget for this key is spent until the window resets", at=reset)
        response = send(self.session, method, url, self.timeout, **kwargs)
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
