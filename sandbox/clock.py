"""A controllable clock for marketplace emulations whose rules depend on time (Carslink's 24 h
expiry, Auterio's "year in the future" check).

Simulated time = ``anchor_sim + (real - anchor_real) * speed + offset``. Tests move it with
``advance`` (instant, deterministic) rather than waiting; ``speed`` makes a running dev sandbox
age listings faster than wall time.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any


class SandboxClock:
    def __init__(self, real: Callable[[], float] = time.time) -> None:
        self._real = real
        self._lock = threading.Lock()
        self.reset()

    def reset(self) -> None:
        """Back to wall time at normal speed."""
        with self._lock:
            now = self._real()
            self._anchor_real = now
            self._anchor_sim = now
            self._speed = 1.0

    def time(self) -> float:
        with self._lock:
            return self._sim_locked()

    def now(self) -> datetime:
        return datetime.fromtimestamp(self.time(), UTC)

    def _sim_locked(self) -> float:
        return self._anchor_sim + (self._real() - self._anchor_real) * self._speed

    def advance(self, seconds: float) -> None:
        with self._lock:
            self._rebase_locked()
            self._anchor_sim += seconds

    def set(self, epoch: float) -> None:
        with self._lock:
            self._rebase_locked()
            self._anchor_sim = epoch

    def set_speed(self, speed: float) -> None:
        with self._lock:
            self._rebase_locked()
            self._speed = speed

    def _rebase_locked(self) -> None:
        # Fold elapsed time into the anchor so changing speed or offset never jumps the clock.
        self._anchor_sim = self._sim_locked()
        self._anchor_real = self._real()

    def to_json(self) -> dict[str, Any]:
        with self._lock:
            sim = self._sim_locked()
            real = self._real()
            speed = self._speed
        return {
            "now": iso(datetime.fromtimestamp(sim, UTC)),
            "epoch": sim,
            "offsetSeconds": round(sim - real, 3),
            "speed": speed,
        }


def iso(dt: datetime) -> str:
    """``2026-05-12T10:00:00Z``: second precision, as Carslink's example response writes it."""
    return dt.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_iso(text: str) -> datetime | None:
    try:
        dt = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    return dt if dt.tzinfo is not None else None
