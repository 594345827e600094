"""One rate budget per marketplace key, shared by every worker through Redis.

Each (key, kind) has a fixed window: ``remaining`` calls until ``reset``. A worker takes a
call from the budget before each request; when none is left it gets the reset time back
and reschedules its job for then, so no worker ever sleeps on a rate limit. Response
headers (``X-RateLimit-Remaining``/``Reset``) correct the local view, since the
marketplace's window started before ours and other clients may share the key. A 429 holds
the whole key (reads and writes) until its reset.
"""

from __future__ import annotations

import hashlib
import time
from dataclasses import dataclass

import redis

# KEYS: window hash, key-wide hold, waiter counter. ARGV: limit, window, now.
# A refused caller is not told just "the reset" (every waiting job would wake in the same
# instant): waiters are spread evenly over the next window. Placing them further out looked
# better on paper, but a waiter refused again would be counted twice and later windows left
# idle; the next window only is self-correcting.
_ACQUIRE = """
local limit = tonumber(ARGV[1])
local window = tonumber(ARGV[2])
local now = tonumber(ARGV[3])
local function queued(from)
  local place = redis.call('INCR', KEYS[3]) - 1
  redis.call('EXPIRE', KEYS[3], math.ceil(window) * 2 + 60)
  return {0, tostring(from + (place % limit) * (window / limit))}
end
local hold = tonumber(redis.call('GET', KEYS[2]) or '0')
if hold > now then return queued(hold) end
local reset = tonumber(redis.call('HGET', KEYS[1], 'reset') or '0')
if now >= reset then
  redis.call('DEL', KEYS[3])
  reset = now + window
  redis.call('HSET', KEYS[1], 'remaining', limit - 1, 'reset', reset)
  redis.call('EXPIRE', KEYS[1], math.ceil(window) + 3600)
  return {1, tostring(reset)}
end
local remaining = tonumber(redis.call('HGET', KEYS[1], 'remaining') or '0')
if remaining > 0 then
  redis.call('HINCRBY', KEYS[1], 'remaining', -1)
  return {1, tostring(reset)}
end
return queued(reset)
"""

# Headers correct the local window (marketplaces round resets to whole seconds, hence the
# 1.5 s tolerance for "the same window"):
#   reset already past              -> a slow response from a window that has ended: ignored
#   same window                     -> remaining only goes down (other workers' calls may not
#                                      be in the header yet)
#   remote window ends sooner       -> adopt its reset, remaining only goes down
#   remote window ends later        -> ours is stale (the remote rolled over first): adopt both
_OBSERVE = """
local now = tonumber(ARGV[3])
local header_reset = tonumber(ARGV[2])
local header_remaining = tonumber(ARGV[1])
if header_reset <= now then return 0 end
local reset = tonumber(redis.call('HGET', KEYS[1], 'reset') or '0')
local current = tonumber(redis.call('HGET', KEYS[1], 'remaining') or tostring(header_remaining))
if header_reset > reset + 1.5 then
  redis.call('HSET', KEYS[1], 'remaining', header_remaining, 'reset', header_reset)
elseif header_reset < reset - 1.5 then
  redis.call('HSET', KEYS[1], 'remaining', math.min(current, header_remaining), 'reset', header_reset)
else
  redis.call('HSET', KEYS[1], 'remaining', math.min(current, header_remaining))
end
return 1
"""


@dataclass(frozen=True)
class Limits:
    reads: int = 60
    writes: int = 30
    window: float = 60.0


def budget_id(base_url: str, rate_key: str) -> str:
    """Destinations sharing a key share its budget; the key itself is never stored."""
    return hashlib.sha256(f"{base_url}\x00{rate_key}".encode()).hexdigest()[:20]


class RateBudget:
    def __init__(self, client: redis.Redis, ident: str, limits: Limits) -> None:
        self.client = client
        self.ident = ident
        self.limits = limits
        self._acquire = client.register_script(_ACQUIRE)
        self._observe = client.register_script(_OBSERVE)

    def _key(self, kind: str) -> str:
        return f"fc:budget:{self.ident}:{kind}"

    @property
    def hold_key(self) -> str:
        return f"fc:budget:{self.ident}:hold"

    def _limit(self, kind: str) -> int:
        return self.limits.reads if kind == "read" else self.limits.writes

    def acquire(self, kind: str, now: float | None = None) -> tuple[bool, float]:
        """Take one call. Returns (granted, when): the window's reset if granted, else this
        caller's own time to come back."""
        now = time.time() if now is None else now
        granted, reset = self._acquire(
            keys=[self._key(kind), self.hold_key, f"{self._key(kind)}:backlog"],
            args=[self._limit(kind), self.limits.window, now],
        )
        return bool(int(granted)), float(reset)

    def observe(self, kind: str, remaining: int, reset_at: float, now: float | None = None) -> None:
        now = time.time() if now is None else now
        self._observe(keys=[self._key(kind)], args=[remaining, reset_at, now])

    def hold_until(self, until: float, now: float | None = None) -> None:
        now = time.time() if now is None else now
        ttl_ms = max(1, int((until - now) * 1000))
        pipe = self.client.pipeline()
        pipe.set(self.hold_key, until, px=ttl_ms)
        for kind in ("read", "write"):
            pipe.hset(self._key(kind), mapping={"remaining": 0, "reset": until})
        pipe.execute()

    def held_until(self, now: float | None = None) -> float | None:
        now = time.time() if now is None else now
        raw = self.client.get(self.hold_key)
        value = float(raw) if raw else 0.0
        return value if value > now else None
