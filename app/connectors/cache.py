"""The small JSON cache connectors share across workers (reference data, login tokens)."""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from typing import Any, Protocol, runtime_checkable

log = logging.getLogger(__name__)


@runtime_checkable
class Cache(Protocol):
    """A small JSON cache shared by workers (reference data such as enums and contacts)."""

    def get_json(self, key: str) -> Any | None: ...

    def set_json(self, key: str, value: Any, ttl: int) -> None: ...

    def delete(self, key: str) -> None: ...


class RedisCache:
    """``Cache`` on Redis. Redis trouble degrades to a cache miss instead of failing a sync."""

    def __init__(self, redis_client: Any, prefix: str = "forecourt:cache:") -> None:
        self.redis = redis_client
        self.prefix = prefix

    def get_json(self, key: str) -> Any | None:
        try:
            raw = self.redis.get(self.prefix + key)
        except Exception:  # any client error is a miss, never a failed sync
            log.warning("cache read failed for %s", key, exc_info=True)
            return None
        if raw is None:
            return None
        try:
            return json.loads(raw)
        except (TypeError, ValueError):
            return None

    def set_json(self, key: str, value: Any, ttl: int) -> None:
        try:
            self.redis.set(self.prefix + key, json.dumps(value), ex=max(1, int(ttl)))
        except Exception:
            log.warning("cache write failed for %s", key, exc_info=True)

    def delete(self, key: str) -> None:
        try:
            self.redis.delete(self.prefix + key)
        except Exception:
            log.warning("cache delete failed for %s", key, exc_info=True)


class MemoryCache:
    """In-process ``Cache`` for tests and one-off scripts."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._data: dict[str, tuple[float, str]] = {}
        self._clock = clock

    def get_json(self, key: str) -> Any | None:
        entry = self._data.get(key)
        if entry is None:
            return None
        expires, raw = entry
        if self._clock() >= expires:
            del self._data[key]
            return None
        return json.loads(raw)

    def set_json(self, key: str, value: Any, ttl: int) -> None:
        self._data[key] = (self._clock() + ttl, json.dumps(value))

    def delete(self, key: str) -> None:
        self._data.pop(key, None)
