"""A circuit breaker per destination: when a marketplace keeps failing, its jobs wait
instead of burning their retry attempts against it.

closed    -> pushes flow; THRESHOLD consecutive transient failures open it.
open      -> pushes are put back until ``open_until`` (30 s, doubling per trip, max 10 min).
half-open -> after the cooldown one push (the probe) goes through; the others wait a little.
             The probe's success closes the breaker; its failure re-opens it at once.
"""

from __future__ import annotations

import time

import redis

THRESHOLD = 5
BASE_COOLDOWN = 30.0
MAX_COOLDOWN = 600.0
PROBE_WAIT = 5.0


class Breaker:
    def __init__(self, client: redis.Redis, destination_id: int) -> None:
        self.client = client
        self.key = f"fc:breaker:{destination_id}"
        self.probe_key = f"{self.key}:probe"

    def open_until(self, now: float | None = None) -> float | None:
        now = time.time() if now is None else now
        raw = self.client.hget(self.key, "open_until")
        value = float(raw) if raw else 0.0
        return value if value > now else None

    def wait_until(self, now: float | None = None) -> float | None:
        """None when a push may go now; otherwise when to try again."""
        now = time.time() if now is None else now
        until = self.open_until(now)
        if until:
            return until
        if int(self.client.hget(self.key, "trips") or 0) == 0:
            return None
        # Half-open: exactly one probe at a time.
        if self.client.set(self.probe_key, 1, nx=True, ex=int(MAX_COOLDOWN)):
            return None
        return now + PROBE_WAIT

    def failure(self, now: float | None = None) -> float | None:
        """Count a transient failure; returns the time the breaker opens until, if it opened."""
        now = time.time() if now is None else now
        trips = int(self.client.hget(self.key, "trips") or 0)
        failures = self.client.hincrby(self.key, "failures", 1)
        self.client.expire(self.key, 3600)
        if trips == 0 and failures < THRESHOLD:
            return None
        trips = self.client.hincrby(self.key, "trips", 1)
        until = now + min(MAX_COOLDOWN, BASE_COOLDOWN * 2 ** (trips - 1))
        self.client.hset(self.key, mapping={"open_until": until, "failures": 0})
        self.client.delete(self.probe_key)
        return until

    def success(self) -> None:
        self.client.delete(self.key, self.probe_key)
