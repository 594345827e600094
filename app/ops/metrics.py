"""GET /metrics: Prometheus text exposition of what ops watch (queues, failures, throughput)."""

from __future__ import annotations

from flask import Blueprint, Response, current_app, request
from rq import Queue
from rq.registry import FailedJobRegistry, ScheduledJobRegistry, StartedJobRegistry
from sqlalchemy import func, select

from app.auth import keys
from app.extensions import db, redis_store
from app.listings import apply_errors
from app.sync.debounce import DUE

bp = Blueprint("metrics", __name__)


def _line(name: str, value: float, **labels: str) -> str:
    rendered = ",".join(f'{k}="{v}"' for k, v in labels.items())
    return f"{name}{{{rendered}}} {value}" if rendered else f"{name} {value}"


@bp.get("/metrics")
def metrics() -> Response:
    keys.require(request, "dashboard:read", all_sites=True)
    from app.jobs.queues import QUEUES
    from app.listings.models import SyncAttempt, SyncState
    from app.sites.models import Destination

    client = redis_store.client
    stuck, failed_attempts = apply_errors.counts()
    lines = [
        "# HELP forecourt_queue_jobs Jobs waiting, running, scheduled (backoff, rate waits) and failed.",
        "# TYPE forecourt_queue_jobs gauge",
    ]
    for name in QUEUES:
        queue = Queue(name, connection=client)
        for state, count in (
            ("queued", queue.count),
            ("started", StartedJobRegistry(queue=queue).count),
            ("scheduled", ScheduledJobRegistry(queue=queue).count),
            ("failed", FailedJobRegistry(queue=queue).count),
        ):
            lines.append(_line("forecourt_queue_jobs", count, queue=name, state=state))
    lines += [
        "# HELP forecourt_debounce_pending_cars Cars with events waiting for their debounce window.",
        "# TYPE forecourt_debounce_pending_cars gauge",
        _line("forecourt_debounce_pending_cars", int(client.zcard(DUE))),
        "# HELP forecourt_event_apply_errors Cars whose queued events failed to apply because of a bug.",
        "# TYPE forecourt_event_apply_errors gauge",
        _line("forecourt_event_apply_errors", stuck),
        "# HELP forecourt_event_apply_errors_total Attempts to apply a car's events that failed on a bug.",
        "# TYPE forecourt_event_apply_errors_total counter",
        _line("forecourt_event_apply_errors_total", failed_attempts),
        "# HELP forecourt_spooled_files Event spool files waiting for Redis on this host.",
        "# TYPE forecourt_spooled_files gauge",
        _line("forecourt_spooled_files", len(list(
            (current_app.config["FORECOURT"].var_dir / "spool").glob("*.jsonl")))),
        "# HELP forecourt_destination_paused Destinations paused for bad credentials.",
        "# TYPE forecourt_destination_paused gauge",
    ]
    for dest in db.session.scalars(select(Destination).where(Destination.enabled)):
        lines.append(_line("forecourt_destination_paused", int(dest.paused), site=dest.site_id,
                           marketplace=dest.marketplace))
    from app.sync import feed_status

    lines += feed_status.metric_lines()
    lines += ["# HELP forecourt_cars Cars by sync status at each marketplace.", "# TYPE forecourt_cars gauge"]
    rows = db.session.execute(
        select(Destination.marketplace, SyncState.status, func.count())
        .join(Destination, Destination.id == SyncState.destination_id)
        .group_by(Destination.marketplace, SyncState.status)
    ).all()
    for marketplace, status, count in rows:
        lines.append(_line("forecourt_cars", count, marketplace=marketplace, status=status))
    lines += ["# HELP forecourt_sync_attempts_total Marketplace calls by outcome.",
              "# TYPE forecourt_sync_attempts_total counter"]
    for operation, outcome, count in db.session.execute(
        select(SyncAttempt.operation, SyncAttempt.outcome, func.count()).group_by(
            SyncAttempt.operation, SyncAttempt.outcome)
    ).all():
        lines.append(_line("forecourt_sync_attempts_total", count, operation=operation, outcome=outcome))
    return Response("\n".join(lines) + "\n", mimetype="text/plain; version=0.0.4")
