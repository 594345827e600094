"""A whole-stock feed destination's state: the guard on full feeds, the run record, the
freshness alarm and the schedule (any ``supports_full`` feed sink; Carslink's ``full_replace``).

**Guard.** The remote removes every listing missing from a full feed, so one broken source
(an import that hid every car, a status mapping gone wrong) must never empty a dealer. A full
feed is *held*, not sent, when it would be empty, or when it would remove more than
``full_replace_max_drop`` (destination option, default 0.5) of the cars listed at the
destination now (those synced there: the last accepted full feed as partial updates and
deletes have since changed it). A held feed shows on the destination (``feed_status.held``),
in ``/metrics`` (``forecourt_full_feed_held``) and in the log, and goes once confirmed through
the admin API or ``flask forecourt feeds confirm``; a later full feed that passes the guard
(the source was fixed) clears the hold.

**Freshness.** The remote expires listings not refreshed for 24 hours; two full feeds a day
refresh every live car. When none has succeeded for ``ALARM_HOURS`` the destination gets an
``alarm``, a metric and, with Sentry configured, one event per episode.

**Schedule.** ``FULL_FEED_CRON`` is read in ``FULL_FEED_TIMEZONE`` (Europe/London: Carslink's
noon and midnight move with British Summer Time, which RQ's cron, in the host's zone, cannot
follow). ``enqueue_due`` runs from the scheduler's housekeeping every 30 s and catches up a
run missed while the scheduler was down.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from croniter import croniter
from flask import current_app
from sqlalchemy import select

from app.connectors.base import ConnectorError, ConnectorKind
from app.connectors.kinds import BatchResult
from app.extensions import db, redis_store
from app.jobs import enqueue
from app.listings.models import SyncRun
from app.sites.models import Destination
from app.sync import destinations as dest_service
from app.timeutil import isoformat, utcnow

log = logging.getLogger("forecourt.sync.feed_status")

DEFAULT_MAX_DROP = 0.5
ALARM_HOURS = 13.0  # noon and midnight feeds: one missed run plus an hour of slack


def status_of(dest: Destination) -> dict[str, Any]:
    return dict(dest.feed_status or {})


def _set(dest: Destination, **changes: Any) -> None:
    # A new dict: SQLAlchemy sees a JSON column change only when the value is replaced.
    status = status_of(dest)
    for key, value in changes.items():
        if value is None:
            status.pop(key, None)
        else:
            status[key] = value
    dest.feed_status = status


def takes_full(dest: Destination) -> bool:
    cls = dest_service.connector_class(dest.marketplace)
    return cls.kind is ConnectorKind.FEED and bool(cls.supports_full)


# --------------------------------------------------------------------------- the guard


def guard(dest: Destination, listed: Iterable[int], sending: Iterable[int]) -> dict[str, Any] | None:
    """The hold to apply to this full feed (None: send it). ``listed``: ids of the cars live at
    the destination now; ``sending``: ids of the cars the feed carries. A confirmed hold lets
    exactly one feed through."""
    listed, sending = set(listed), set(sending)
    dropped = len(listed - sending)
    share = dropped / len(listed) if listed else 0.0
    limit = float((dest.options or {}).get("full_replace_max_drop", DEFAULT_MAX_DROP))
    reason = None
    if not sending:
        reason = "the full feed would be empty: it would remove every listing"
    elif share > limit:
        reason = (f"the full feed would remove {dropped} of the {len(listed)} cars listed "
                  f"({share:.0%}, more than the {limit:.0%} allowed)")
    held = status_of(dest).get("held")
    if reason is None:
        if held:
            log.info("full feed passes the guard again; hold cleared", extra={"destination": dest.slug})
            _set(dest, held=None)
        return None
    if held and held.get("confirmedAt"):
        # The hold ends when the remote accepts this feed (``accepted_full``): a confirmed feed
        # that meets a 5xx goes again on its retries without a second confirmation.
        log.warning("held full feed sent on confirmation", extra={"destination": dest.slug, "reason": reason})
        return None
    hold = {"reason": reason, "wouldSend": len(sending), "wouldRemove": dropped, "listed": len(listed),
            "heldAt": (held or {}).get("heldAt") or isoformat(utcnow()), "lastCheckedAt": isoformat(utcnow())}
    if not held:
        log.error("full feed held until confirmed", extra={"destination": dest.slug, "reason": reason})
    _set(dest, held=hold)
    return hold


def confirm(dest: Destination, by: str) -> dict[str, Any] | None:
    """Let the held full feed go: mark the hold confirmed and queue a full feed now. None when
    nothing is held (a confirmation never pre-approves a future feed)."""
    held = status_of(dest).get("held")
    if not held:
        return None
    held = {**held, "confirmedAt": isoformat(utcnow()), "confirmedBy": by}
    _set(dest, held=held)
    db.session.commit()
    enqueue.send_full(dest.id, site_id=dest.site_id)
    log.warning("held full feed confirmed", extra={"destination": dest.slug, "by": by})
    return held


# --------------------------------------------------------------------------- outcomes


def record_run(dest: Destination, result: BatchResult, *, full: bool, sent: int) -> SyncRun:
    """The run record of one feed request: the remote's id (Carslink's ``sync_id``) and counts."""
    run = SyncRun(site_id=dest.site_id, kind="feed:full" if full else "feed:partial",
                  counts={"sent": sent, **result.counts},
                  details={"marketplace": dest.marketplace, "destinationId": dest.id, "syncId": result.remote_id},
                  finished_at=utcnow())
    db.session.add(run)
    db.session.flush()
    return run


def accepted_full(dest: Destination, run: SyncRun) -> None:
    """A full feed went through: it is the new baseline, and the freshness alarm ends."""
    if status_of(dest).get("alarm"):
        log.info("full feed succeeded; freshness alarm cleared", extra={"destination": dest.slug})
    _set(dest, lastFull={"at": isoformat(run.finished_at), "runId": run.id, "syncId": run.details.get("syncId"),
                         "counts": run.counts}, alarm=None, lastError=None, held=None)


def refused(dest: Destination, exc: ConnectorError) -> None:
    """The remote refused a whole feed (a 4xx): shown on the destination with its fields."""
    _set(dest, lastError={"message": exc.message, "status": exc.status, "code": exc.code,
                          "fields": dict(exc.fields or {}), "at": isoformat(utcnow())})


# --------------------------------------------------------------------------- freshness alarm


def _last_full_at(dest: Destination) -> datetime:
    last = (status_of(dest).get("lastFull") or {}).get("at")
    created = dest.created_at if dest.created_at.tzinfo else dest.created_at.replace(tzinfo=utcnow().tzinfo)
    return datetime.fromisoformat(last) if last else created


def check_alarms(now: datetime | None = None) -> int:
    """Raise (once per episode) the alarm of every whole-stock destination whose last
    successful full feed is older than ``ALARM_HOURS``; returns how many are in alarm."""
    now = now or utcnow()
    alarmed = 0
    for dest in db.session.scalars(select(Destination).where(Destination.enabled)):
        if not takes_full(dest):
            continue
        since = _last_full_at(dest)
        if now - since < timedelta(hours=ALARM_HOURS):
            continue
        alarmed += 1
        if status_of(dest).get("alarm"):
            continue
        message = (f"{dest.slug}: no full feed has succeeded since {isoformat(since)}; "
                   "listings expire after 24 hours without one")
        _set(dest, alarm={"since": isoformat(since), "raisedAt": isoformat(now), "message": message})
        log.error("full feed overdue", extra={"destination": dest.slug, "since": isoformat(since)})
        _sentry(message, dest)
    db.session.commit()
    return alarmed


def _sentry(message: str, dest: Destination) -> None:
    if not current_app.config["FORECOURT"].sentry_dsn:
        return
    import sentry_sdk

    with sentry_sdk.new_scope() as scope:
        scope.set_tag("destination", dest.slug)
        sentry_sdk.capture_message(message, level="error")


# --------------------------------------------------------------------------- schedule


def last_due(cron: str, zone: str, now: datetime) -> datetime:
    """The latest time ``cron`` fired at or before ``now``, reading the cron in ``zone``."""
    local = now.astimezone(ZoneInfo(zone))
    return croniter(cron, local + timedelta(seconds=1)).get_prev(datetime).astimezone(UTC)


def enqueue_due(now: datetime | None = None) -> int:
    """Queue a full feed for every whole-stock destination whose last scheduled run has not
    been queued yet (once per destination and run, however many schedulers tick)."""
    settings = current_app.config["FORECOURT"]
    now = now or utcnow()
    due = last_due(settings.full_feed_cron, settings.full_feed_timezone, now)
    queued = 0
    for dest in db.session.scalars(select(Destination).where(Destination.enabled)):
        if not takes_full(dest) or not dest.site.active:
            continue
        if not status_of(dest).get("lastFull") and _last_full_at(dest) > due:
            continue  # a destination newer than the run: its first full feed is the next one
        key = f"fc:full-due:{dest.id}:{int(due.timestamp())}"
        if redis_store.client.set(key, 1, nx=True, ex=2 * 86400):
            enqueue.send_full(dest.id, site_id=dest.site_id)
            queued += 1
    return queued


# --------------------------------------------------------------------------- views


def summary(dest: Destination, now: datetime | None = None) -> Mapping[str, Any]:
    status = status_of(dest)
    age = (now or utcnow()) - _last_full_at(dest)
    return {"marketplace": dest.marketplace, "held": status.get("held"), "lastFull": status.get("lastFull"),
            "alarm": status.get("alarm"), "lastError": status.get("lastError"),
            "lastFullAgeSeconds": round(age.total_seconds())}


def metric_lines() -> list[str]:
    lines = [
        "# HELP forecourt_full_feed_held Whole-stock feeds held by the guard until confirmed.",
        "# TYPE forecourt_full_feed_held gauge",
    ]
    dests = [d for d in db.session.scalars(select(Destination).where(Destination.enabled)) if takes_full(d)]
    for dest in dests:
        lines.append(f'forecourt_full_feed_held{{site="{dest.site_id}",marketplace="{dest.marketplace}"}} '
                     f'{int(bool(status_of(dest).get("held")))}')
    lines += ["# HELP forecourt_full_feed_overdue No full feed succeeded for 13 h (listings expire at 24 h).",
              "# TYPE forecourt_full_feed_overdue gauge"]
    for dest in dests:
        lines.append(f'forecourt_full_feed_overdue{{site="{dest.site_id}",marketplace="{dest.marketplace}"}} '
                     f'{int(bool(status_of(dest).get("alarm")))}')
    lines += ["# HELP forecourt_full_feed_age_seconds Seconds since the last successful full feed.",
              "# TYPE forecourt_full_feed_age_seconds gauge"]
    for dest in dests:
        lines.append(f'forecourt_full_feed_age_seconds{{site="{dest.site_id}",marketplace="{dest.marketplace}"}} '
                     f'{summary(dest)["lastFullAgeSeconds"]}')
    return lines
