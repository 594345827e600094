"""Accepting an inbound event durably and fast: into Redis, or onto local disk when Redis
is unreachable (WooCommerce disables a webhook after 5 failed deliveries, so a Redis outage
must not turn into 5xx answers). The spool drains back into Redis when it returns."""

from __future__ import annotations

import fcntl
import json
import logging
import os
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import redis
from flask import current_app

log = logging.getLogger("forecourt.inbound")


class Spool:
    """Append-only JSON-lines files under ``var/spool``, fsynced before the 202 goes out."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self._pending_checked = False
        self._pending = False
        self._draining = threading.Lock()

    def _lock(self):
        self.directory.mkdir(parents=True, exist_ok=True)
        return open(self.directory / ".lock", "w")

    def append(self, item: dict[str, Any]) -> None:
        line = (json.dumps(item, separators=(",", ":")) + "\n").encode()
        with self._lock() as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            fd = os.open(self.directory / f"events-{os.getpid()}.jsonl", os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
            try:
                os.write(fd, line)
                os.fsync(fd)
            finally:
                os.close(fd)
        self._pending = True

    def has_pending(self) -> bool:
        if not self._pending_checked:
            self._pending_checked = True
            self._pending = self.directory.exists() and any(self.directory.glob("events-*"))
        return self._pending

    def drain(self, handler: Callable[[dict[str, Any]], None]) -> int:
        """Hand every spooled item to ``handler``; a file is deleted only once all its items went.

        A file that fails midway is kept and retried whole later; handlers are idempotent
        (deliveries are de-duplicated by id), so items sent twice do no harm."""
        if not self.directory.exists() or not self._draining.acquire(blocking=False):
            return 0
        drained = 0
        try:
            with self._lock() as lock:
                fcntl.flock(lock, fcntl.LOCK_EX)
                for path in self.directory.glob("events-*.jsonl"):
                    path.rename(path.with_name(f"draining-{time.time_ns()}-{path.name}"))
            for path in sorted(self.directory.glob("draining-*")):
                for raw in path.read_text().splitlines():
                    if not raw.strip():
                        continue
                    try:
                        item = json.loads(raw)
                    except ValueError:
                        # A line torn by a crash mid-write: keep it for a human, go on.
                        with open(self.directory / "quarantine.jsonl", "a") as bad:
                            bad.write(raw + "\n")
                        log.error("unreadable spool line quarantined", extra={"file": path.name})
                        continue
                    handler(item)
                    drained += 1
                path.unlink()
            self._pending = False
        finally:
            self._draining.release()
        return drained


_spools: dict[Path, Spool] = {}  # keyed by var_dir, so the hot path does no filesystem calls


def spool() -> Spool:
    var_dir = current_app.config["FORECOURT"].var_dir
    found = _spools.get(var_dir)
    if found is None:
        found = _spools[var_dir] = Spool((var_dir / "spool").resolve())
    return found


# A Standard Webhooks delivery older than the signature tolerance is refused by its signed
# timestamp, so its id only needs remembering a little longer than that: an hour. A sender's
# retry after that is applied again, harmlessly (events apply in modified-time order, and an
# unchanged car makes no marketplace call). Body digests (WooCommerce, WP Webhooks) have no
# timestamp to expire with: keep them longer. Either way each car keeps at most
# ``debounce.SEEN_PER_CAR`` ids, so memory follows cars, not webhooks (bench/soak).
SEEN_TTL = 3600
DIGEST_SEEN_TTL = 90 * 86400


def submit(site_id: str, car_ref: str, doc: dict[str, Any], *, delivery_id: str | None,
           dedupe_ttl: int = SEEN_TTL) -> str:
    """Queue one event; returns "accepted", "duplicate" or "spooled"."""
    from app.sync.engine import debouncer

    try:
        result = debouncer().submit(
            site_id, car_ref, doc, dedupe_id=delivery_id or "", dedupe_ttl=dedupe_ttl,
        )
    except (redis.RedisError, OSError) as exc:
        # Unreachable, but also OOM, MISCONF (disk full) or READONLY after a failover: the
        # event is kept on disk either way, because a 5xx makes WooCommerce give up on us.
        log.error("redis unavailable; event spooled to disk", extra={"site": site_id, "error": str(exc)})
        spool().append({"site_id": site_id, "car_ref": car_ref, "doc": doc, "delivery_id": delivery_id,
                        "dedupe_ttl": dedupe_ttl})
        return "spooled"
    if spool().has_pending():
        _drain_in_background()
    return "duplicate" if result in ("duplicate", b"duplicate") else "accepted"


def spool_full_replace(site_id: str, present_ids: list[str]) -> None:
    spool().append({"type": "full_replace", "site_id": site_id, "present_ids": present_ids})


def _replay(item: dict[str, Any]) -> None:
    from app.sync.engine import debouncer

    if item.get("type") == "full_replace":
        from app.sync.feeds import enqueue_full_replace

        enqueue_full_replace(item["site_id"], item["present_ids"])
        return
    debouncer().submit(
        item["site_id"], item["car_ref"], item["doc"],
        dedupe_id=item.get("delivery_id") or "", dedupe_ttl=item.get("dedupe_ttl", SEEN_TTL),
    )


def drain_spool() -> int:
    count = spool().drain(_replay)
    if count:
        log.info("spooled events drained into redis", extra={"count": count})
    return count


def _drain_in_background() -> None:
    app = current_app._get_current_object()

    def run() -> None:
        with app.app_context():
            try:
                drain_spool()
            except Exception:  # Redis went away again: the files stay for the next try
                log.exception("spool drain failed")

    threading.Thread(target=run, name="spool-drain", daemon=True).start()
