"""The per-source pull schedule: every ``pull_every_minutes`` (default 15) per source.

The scheduler's cron calls :func:`enqueue_due` every minute; a Redis key per source, set for
the source's interval, is the "pulled recently" mark, so several schedulers or a restart never
pull a source twice in one interval.
"""

from __future__ import annotations

from sqlalchemy import select

from app.extensions import db, redis_store
from app.jobs import enqueue
from app.sites.models import Destination
from app.sources.pull import is_source

DEFAULT_EVERY_MINUTES = 15


def due_key(destination_id: int) -> str:
    return f"fc:pull-due:{destination_id}"


def enqueue_due() -> int:
    """Queue a pull of every enabled source whose interval has run out; returns how many."""
    queued = 0
    for dest in db.session.scalars(select(Destination).where(Destination.enabled, Destination.paused.is_(False))):
        if not dest.site.active or not is_source(dest):
            continue
        every = int((dest.options or {}).get("pull_every_minutes", DEFAULT_EVERY_MINUTES))
        if redis_store.client.set(due_key(dest.id), 1, nx=True, ex=every * 60):
            enqueue.pull_source(dest.id, site_id=dest.site_id)
            queued += 1
    return queued


def pull_now(dest: Destination, *, accept_shrink: bool = False) -> str:
    """On demand (admin API, CLI): a pull now, which also restarts the source's interval."""
    redis_store.client.set(due_key(dest.id), 1, ex=int((dest.options or {}).get(
        "pull_every_minutes", DEFAULT_EVERY_MINUTES)) * 60)
    return enqueue.pull_source(dest.id, site_id=dest.site_id, accept_shrink=accept_shrink, queue_name="high").id
