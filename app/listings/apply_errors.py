"""Events that could not be applied because of a bug, kept visible until they apply.

An event that fails validation is invalid by definition and is set aside (recorded as
``failed`` on its inbound-event row). Anything else that goes wrong while applying an event is
our fault, not the sender's: the event must not be acknowledged and lost. The sync job
records the error here, leaves the event queued and raises, so RQ retries it with the
engine's backoff, and the debouncer hands the car out again when its lease lapses. The car
status API shows the error and ``/metrics`` counts it until an attempt succeeds.
"""

from __future__ import annotations

import json
import time
from typing import Any

from app.extensions import redis_store

ERRORS = "fc:apply-errors"  # hash: "site\x1fcar_ref" -> {"message", "at", "attempts"}
TOTAL = "fc:apply-errors:total"  # every failed attempt, for a counter in /metrics


class EventNotApplied(Exception):
    """Applying an event failed for a reason the sender could not have caused."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def _field(site_id: str, car_ref: str) -> str:
    return f"{site_id}\x1f{car_ref}"


def record(site_id: str, car_ref: str, message: str) -> None:
    client = redis_store.client
    previous = get(site_id, car_ref) or {}
    entry = {"message": message[:500], "at": time.time(), "attempts": int(previous.get("attempts", 0)) + 1}
    pipe = client.pipeline()
    pipe.hset(ERRORS, _field(site_id, car_ref), json.dumps(entry))
    pipe.incr(TOTAL)
    pipe.execute()


def clear(site_id: str, car_ref: str) -> None:
    redis_store.client.hdel(ERRORS, _field(site_id, car_ref))


def get(site_id: str, car_ref: str) -> dict[str, Any] | None:
    raw = redis_store.client.hget(ERRORS, _field(site_id, car_ref))
    return json.loads(raw) if raw else None


def counts() -> tuple[int, int]:
    """(cars whose events wait on a bug, failed attempts ever)."""
    client = redis_store.client
    return int(client.hlen(ERRORS)), int(client.get(TOTAL) or 0)
