"""Queue names, in the priority order workers listen to them."""

from __future__ import annotations

from rq import Queue

from app.extensions import redis_store

HIGH = "high"  # Sync Now: a dealer is waiting for it
DEFAULT = "default"  # debounced syncs
IMAGES = "images"  # photo ingestion, so heavy galleries never delay a price change
LOW = "low"  # reconciliation and housekeeping
QUEUES = (HIGH, DEFAULT, IMAGES, LOW)


def queue(name: str) -> Queue:
    return Queue(name, connection=redis_store.client)
