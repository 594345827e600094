"""The transport the engine gives connectors: the shared session with explicit timeouts, plus
the shared rate budget (connectors record their own calls for the attempt log).

Reset headers are read by :mod:`app.connectors.http`, their one owner."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import requests

from app.connectors.errors import RetryAt
from app.connectors.http import clamp_reset, parse_reset, send, shared_session
from app.sync.budget import RateBudget

# clamp_reset is the engine's, through this module (it reschedules on a connector's RetryAt).
__all__ = ["BudgetedTransport", "clamp_reset", "shared_session"]


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
        reset = parse_reset(response.headers.get("X-RateLimit-Reset"), now, self.budget.limits.window)
        if response.status_code == 429:
            self.budget.hold_until(reset or now + self.budget.limits.window, now)
            return
        remaining = response.headers.get("X-RateLimit-Remaining")
        if remaining is not None and reset is not None:
            try:
                self.budget.observe(kind, int(remaining), reset, now)
            except ValueError:
                pass
