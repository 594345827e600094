"""Lead counts for the car-status API: per destination, by delivery outcome. No personal data."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select

from app.extensions import db
from app.leads.models import Lead, LeadDelivery
from app.listings.statuses import SyncStatus
from app.sites.models import Destination


def counts_for_car(car_id: int) -> dict[str, Any]:
    """``{"total": n, "byDestination": {marketplace: {"delivered", "pending", "failed",
    "duplicate"}}}`` for the leads about one car."""
    total = db.session.scalar(select(func.count(Lead.id)).where(Lead.car_id == car_id)) or 0
    rows = db.session.execute(
        select(Destination.marketplace, LeadDelivery.status, LeadDelivery.duplicate, func.count(LeadDelivery.id))
        .join(Lead, Lead.id == LeadDelivery.lead_id)
        .join(Destination, Destination.id == LeadDelivery.destination_id)
        .where(Lead.car_id == car_id)
        .group_by(Destination.marketplace, LeadDelivery.status, LeadDelivery.duplicate)
    ).all()
    by_destination: dict[str, dict[str, int]] = {}
    for marketplace, status, duplicate, count in rows:
        bucket = by_destination.setdefault(marketplace, {"delivered": 0, "pending": 0, "failed": 0, "duplicate": 0})
        if status == SyncStatus.SYNCED:
            bucket["delivered"] += count
            bucket["duplicate"] += count if duplicate else 0
        elif status in (SyncStatus.ERROR, SyncStatus.FAILED):
            bucket["failed"] += count
        else:
            bucket["pending"] += count
    return {"total": total, "byDestination": by_destination}
