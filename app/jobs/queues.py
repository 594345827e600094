"""Queue names, in the priority order workers listen to them."""

from __future__ import annotations

from rq import Queue

from app.extensions import redis_store

HIGH = "high"  # Sync Now: a dealer is waiting for it
PUSH = "push"  # marketplace calls of debounced syncs: ahead of more sync_car jobs, so a burst
# of cars starts spending the marketplace's write budget at once
DEFAULT = "default"  # debounced syncs (apply events, then enqueue the pushes)
IMAGES = "images"  # photo ingestion, so heavy galleries never delay a price change
LOW = "low"  # reconciliation and housekeeping
QUEUES = (HIGH, PUSH, DEFAULT, IMAGES, LOW)


def queue(name: str) -> Queue:
    return Queue(name, connection=redis_store.client)
