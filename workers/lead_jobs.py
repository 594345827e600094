"""RQ job entry points for leads. Arguments are ids only: personal data never enters Redis."""

from __future__ import annotations

from workers.context import job


@job
def deliver_lead(delivery_id: int) -> str:
    """Deliver one lead to one destination; raises on a transient failure so RQ retries it
    with RETRY_BACKOFF_SECONDS. Idempotent: a delivered lead is never sent again."""
    from rq import get_current_job

    from app.leads import delivery

    current = get_current_job()
    final = not (current and current.retries_left)
    return str(delivery.attempt(delivery_id, final=final))


@job
def purge_leads() -> dict[str, int]:
    """Daily: delete leads older than LEAD_RETENTION_DAYS (default 90)."""
    from flask import current_app

    from app.leads.privacy import purge_older_than

    days = current_app.config["FORECOURT"].lead_retention_days
    return {"purged": purge_older_than(days), "retention_days": days}
