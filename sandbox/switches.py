"""Per-marketplace fault switches and clock, for emulations that need them apart from the others.

The shared ``SandboxSettings`` latency and fault rate apply to every marketplace at once. A test
of one connector often needs one marketplace slow or down while the rest behave (Roadster down
while Carzle keeps taking listings), so each marketplace that uses this module also has its own
switches: a value set here overrides the shared setting, ``None`` inherits it.

The clock offset lets tests expire tokens or age inventory without sleeping.
"""

from __future__ import annotations

import math
import threading
import time
from dataclasses import dataclass
from typing import Any

from sandbox.common import ApiError, SandboxSettings, setting_name


@dataclass
class MarketSwitches:
    latency_ms: float | None = None  # None: use the shared setting
    fault_rate: float | None = None  # None: use the shared setting
    outage: bool = False  # every API route of the marketplace answers 503

    def to_dict(self, settings: SandboxSettings) -> dict[str, Any]:
        return {
            "latencyMs": self.latency_ms,
            "faultRate": self.fault_rate,
            "outage": self.outage,
            "effective": {"latencyMs": self.latency(settings), "faultRate": self.faults(settings)},
        }

    def latency(self, settings: SandboxSettings) -> float:
        return settings.latency_ms if self.latency_ms is None else self.latency_ms

    def faults(self, settings: SandboxSettings) -> float:
        return settings.fault_rate if self.fault_rate is None else self.fault_rate

    def update(self, changes: dict[str, Any]) -> None:
        """Apply ``{latencyMs, faultRate, outage}`` (snake_case too) atomically, or raise a 422."""
        errors: dict[str, str] = {}
        coerced: dict[str, Any] = {}
        for raw, value in changes.items():
            name = setting_name(raw)
            if name == "outage":
                if isinstance(value, bool):
                    coerced[name] = value
                else:
                    errors[raw] = "must be a boolean"
            elif name in ("latency_ms", "fault_rate"):
                if value is None:
                    coerced[name] = None
                elif isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
                    errors[raw] = "must be a number or null"
                elif value < 0 or (name == "fault_rate" and value > 1):
                    errors[raw] = "must be between 0 and 1" if name == "fault_rate" else "must not be negative"
                else:
                    coerced[name] = float(value)
            else:
                errors[raw] = "unknown switch"
        if errors:
            raise ApiError(422, "validation_failed", "Invalid switches.", errors)
        for name, value in coerced.items():
            setattr(self, name, value)


class MarketClock:
    """Wall-clock time plus an offset that only moves forward (tokens never un-expire)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._offset = 0.0

    def __call__(self) -> float:
        return time.time() + self._offset

    @property
    def offset(self) -> float:
        return self._offset

    def advance(self, seconds: float) -> float:
        if isinstance(seconds, bool) or not isinstance(seconds, (int, float)) or not math.isfinite(seconds):
            raise ApiError(422, "validation_failed", "Invalid clock change.", {"advanceSeconds": "must be a number"})
        if seconds < 0:
            raise ApiError(
                422, "validation_failed", "Invalid clock change.", {"advanceSeconds": "must not be negative"}
            )
        with self._lock:
            self._offset += float(seconds)
            return self._offset

    def reset(self) -> None:
        with self._lock:
            self._offset = 0.0


class Epoch:
    """Ends at every reset. Requests sleeping for injected latency (or hanging on a broken
    page) wake up then and give up, so a request a test abandoned on a client timeout cannot
    touch the state of the test after it."""

    def __init__(self) -> None:
        self._event = threading.Event()

    def current(self) -> threading.Event:
        return self._event

    def renew(self) -> None:
        old, self._event = self._event, threading.Event()
        old.set()
