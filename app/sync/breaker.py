"""A circuit breaker per destination: when a marketplace keeps failing, its jobs wait
instead of burning their retry attempts against it."""

from __future__ import annotations

import time

import redis

THRESHOLD = 5  # consecutive transient failures before opening
BASE_COOLDOWN = 30.0
MAX_COOLDOWN = 600.0


class Breaker:
    def __init__(self, client: redis.Redis, destination_id: int) -> None:
        self.client = client
        self.key = f"fc:breaker:{destination_id}"

    def open_until(self, now: float | None = None) -> float | None:
        now = time.time() if now is None else now
        raw = self.client.hget(self.key, "open_until")
        value = float(raw) if raw else 0.0
        return value if value > now else None

    def failure(self, now: float | None = None) -> float | None:
        """Count a failure; returns the time the breaker opens until, if it opened."""
        now = time.time() if now is None else now
        failures = self.client.hincrby(self.key, "failures", 1)
        self.client.expire(self.key, 3600)
        if failures < THRESHOLD:
            return None
        trips = self.client.hincrby(self.key, "trips", 1)
        until = now + min(MAX_COOLDOWN, BASE_COOLDOWN * 2 ** (trips - 1))
        self.client.hset(self.key, mapping={"open_until": until, "failures": 0})
        return until

    def success(self) -> None:
        self.client.delete(self.key)
