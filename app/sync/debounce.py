"""Per-car debounce in Redis: a burst of events for one car becomes one sync job.

RQ has no debounce of its own (rq#2425), so this is kept small and atomic (Lua):

* ``submit`` appends the event to the car's pending list and sets the car's due time in one
  sorted set to ``min(now + DEBOUNCE_SECONDS, window_start + DEBOUNCE_MAX_WAIT_SECONDS)``:
  each event pushes the sync back, but never past the maximum wait.
* ``take_due`` (the scheduler's flusher, several times a second) leases due cars by moving their
  score ``LEASE`` seconds ahead, then enqueues one sync job per car. If the flusher dies before
  enqueueing, the lease runs out and the car is due again: nothing is lost.
* ``read`` / ``ack``: the sync job reads the pending events, commits them to the database, then
  trims exactly the events it read. Events that arrived meanwhile stay, still due.

Events are kept whole rather than merged here: ordering (``modified_at`` then arrival) and
partial-update merging happen in Python when the job applies them (``app.listings.service``).
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from typing import Any

import redis

DUE = "fc:debounce:due"
WINDOW = "fc:debounce:window"  # member -> window start
# A leased car whose sync job vanished (Redis or the flusher died between the lease and the
# enqueue, the job failed for good) is due again after this: seconds, not minutes. A sync job
# still waiting in a long queue gets no twin when the lease lapses: ``enqueue.car_sync`` finds
# the waiting one (one waiting sync per car) and the lease is simply taken again.
LEASE_SECONDS = 15


def member(site_id: str, car_ref: str) -> str:
    return f"{site_id}\x1f{car_ref}"


def split_member(value: str | bytes) -> tuple[str, str]:
    text = value.decode() if isinstance(value, bytes) else value
    site_id, _, car_ref = text.partition("\x1f")
    return site_id, car_ref


def events_key(site_id: str, car_ref: str) -> str:
    return f"fc:events:{{{site_id}}}:{car_ref}"


def seen_key(site_id: str, car_ref: str) -> str:
    """The delivery ids already taken for one car: a sorted set, id → when it may be forgotten."""
    return f"fc:seen:{{{site_id}}}:{car_ref}"


# Delivery ids remembered per car, newest kept. One key per car rather than one per delivery,
# so Redis holds at most cars × SEEN_PER_CAR ids however many webhooks arrive (bench/soak).
# Forgetting an older id is harmless: a redelivery of it applies in modified-time order, and
# an unchanged car makes no marketplace call.
SEEN_PER_CAR = 64


_SUBMIT = """
local now = tonumber(ARGV[3])
if ARGV[7] ~= '' then
  local ttl = tonumber(ARGV[6])
  redis.call('ZREMRANGEBYSCORE', KEYS[4], '-inf', now)
  if redis.call('ZSCORE', KEYS[4], ARGV[7]) then return 'duplicate' end
  redis.call('ZADD', KEYS[4], now + ttl, ARGV[7])
  if redis.call('ZCARD', KEYS[4]) > tonumber(ARGV[8]) then redis.call('ZPOPMIN', KEYS[4]) end
  if redis.call('TTL', KEYS[4]) < ttl then redis.call('EXPIRE', KEYS[4], ttl) end
end
local first = tonumber(redis.call('HGET', KEYS[3], ARGV[1]))
if not first then
  first = now
  redis.call('HSET', KEYS[3], ARGV[1], first)
end
local length = redis.call('RPUSH', KEYS[1], ARGV[2])
local due = math.min(now + tonumber(ARGV[4]), first + tonumber(ARGV[5]))
redis.call('ZADD', KEYS[2], due, ARGV[1])
return tostring(due)
"""

_TAKE_DUE = """
local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, tonumber(ARGV[3]))
for _, m in ipairs(due) do
  redis.call('ZADD', KEYS[1], tonumber(ARGV[1]) + tonumber(ARGV[2]), m)
  redis.call('HDEL', KEYS[2], m)
end
return due
"""

_ACK = """
local count = tonumber(ARGV[2])
if count > 0 and redis.call('LINDEX', KEYS[1], count - 1) ~= ARGV[3] then
  return -1
end
redis.call('LTRIM', KEYS[1], count, -1)
if redis.call('LLEN', KEYS[1]) == 0 then
  redis.call('DEL', KEYS[1])
  redis.call('ZREM', KEYS[2], ARGV[1])
  redis.call('HDEL', KEYS[3], ARGV[1])
  return 0
end
return redis.call('LLEN', KEYS[1])
"""


@dataclass(frozen=True)
class DebounceWindow:
    seconds: float
    max_wait: float


class Debouncer:
    def __init__(self, client: redis.Redis, window: DebounceWindow) -> None:
        self.client = client
        self.window = window
        self._submit = client.register_script(_SUBMIT)
        self._take = client.register_script(_TAKE_DUE)
        self._ack = client.register_script(_ACK)

    def submit(
        self,
        site_id: str,
        car_ref: str,
        event: dict[str, Any],
        *,
        now: float | None = None,
        delay: float | None = None,
        pipe: redis.client.Pipeline | None = None,
        dedupe_id: str = "",
        dedupe_ttl: int = 86400,
    ) -> Any:
        """Queue one event for the car. With ``dedupe_id``, an event whose id this car already
        took within ``dedupe_ttl`` seconds (a replayed delivery) is dropped and ``"duplicate"``
        returned, atomically."""
        now = time.time() if now is None else now
        delay = self.window.seconds if delay is None else delay
        m = member(site_id, car_ref)
        return self._submit(
            keys=[events_key(site_id, car_ref), DUE, WINDOW, seen_key(site_id, car_ref)],
            args=[m, json.dumps(event, separators=(",", ":")), now, delay, self.window.max_wait, dedupe_ttl,
                  dedupe_id, SEEN_PER_CAR],
            client=pipe or self.client,
        )

    def take_due(self, *, now: float | None = None, limit: int = 500) -> list[tuple[str, str]]:
        now = time.time() if now is None else now
        taken = self._take(keys=[DUE, WINDOW], args=[now, LEASE_SECONDS, limit])
        return [split_member(m) for m in taken]

    def read(self, site_id: str, car_ref: str) -> list[dict[str, Any]]:
        return self.read_with_marker(site_id, car_ref)[0]

    def read_with_marker(self, site_id: str, car_ref: str) -> tuple[list[dict[str, Any]], bytes]:
        """The pending events, and a marker (the last one as stored) for ``ack``."""
        raw = self.client.lrange(events_key(site_id, car_ref), 0, -1)
        return [json.loads(item) for item in raw], (raw[-1] if raw else b"")

    def ack(self, site_id: str, car_ref: str, count: int, marker: bytes | None = None) -> int:
        """Drop the first ``count`` events (the ones just applied); return how many remain.

        With ``marker``, only if the list still has exactly that event at ``count``: if another
        run trimmed it meanwhile, nothing is dropped (-1) rather than events nobody applied."""
        last = marker
        if last is None:
            last = self.client.lindex(events_key(site_id, car_ref), count - 1) or b"" if count else b""
        return int(
            self._ack(
                keys=[events_key(site_id, car_ref), DUE, WINDOW],
                args=[member(site_id, car_ref), count, last],
            )
        )

    def pending(self) -> int:
        return int(self.client.zcard(DUE))
