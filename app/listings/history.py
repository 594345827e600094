"""A car's history: every version each source delivered, and every payload sent to each
destination, with time and outcome (the spirit of Carfluence's ``/inventory/:vin/history``).

The latest version of each source is also what the merge by VIN reads
(:mod:`app.listings.merge`), so purging never removes a source's latest version.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import JSON, Boolean, DateTime, ForeignKey, Integer, String, Text, delete, func, select
from sqlalchemy.orm import Mapped, mapped_column

from app.extensions import db
from app.timeutil import isoformat, utcnow


class CarVersion(db.Model):
    """One version of a car as one source delivered it (before merging)."""

    __tablename__ = "car_versions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    site_id: Mapped[str] = mapped_column(String(64), index=True)
    car_id: Mapped[int] = mapped_column(ForeignKey("cars.id", ondelete="CASCADE"), index=True)
    source: Mapped[str] = mapped_column(String(32))  # wordpress | dms | a source's marketplace
    vin: Mapped[str | None] = mapped_column(String(17), index=True)
    vehicle: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    status: Mapped[str | None] = mapped_column(String(16))
    removed: Mapped[bool] = mapped_column(Boolean, default=False)  # the source no longer has it
    modified_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    received_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, index=True)


class SentPayload(db.Model):
    """One payload sent (or attempted) to one destination for one car."""

    __tablename__ = "sent_payloads"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    car_id: Mapped[int] = mapped_column(ForeignKey("cars.id", ondelete="CASCADE"), index=True)
    destination_id: Mapped[int | None] = mapped_column(ForeignKey("destinations.id", ondelete="SET NULL"))
    marketplace: Mapped[str] = mapped_column(String(32))
    operation: Mapped[str] = mapped_column(String(16))  # create | update | delete | ...
    outcome: Mapped[str] = mapped_column(String(24))  # done | retry | fix_input | reauth | error | failed
    payload: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    http_status: Mapped[int | None] = mapped_column(Integer)
    error: Mapped[str | None] = mapped_column(Text)
    sent_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, index=True)


def latest_versions(car_id: int | None) -> dict[str, CarVersion]:
    """The newest version of each source that has described the car."""
    if car_id is None:
        return {}
    newest = (
        select(func.max(CarVersion.id)).where(CarVersion.car_id == car_id).group_by(CarVersion.source)
    )
    rows = db.session.scalars(select(CarVersion).where(CarVersion.id.in_(newest)))
    return {row.source: row for row in rows}


def record_version(
    car: Any, source: str, *, removed: bool, modified_at: datetime | None
) -> CarVersion | None:
    """Keep what ``source`` just said about the car (its own vehicle in ``car.vehicle``, before
    any merge); an unchanged re-delivery is not a new version. Returns the new row or None."""
    db.session.flush()  # a new car needs its id
    vehicle = dict(car.vehicle or {})
    last = latest_versions(car.id).get(source)
    if last is not None and _same(last.vehicle, vehicle) and last.status == car.status and last.removed == removed:
        if modified_at is not None:
            # SQLite hands back naive datetimes; every time here is UTC.
            known = last.modified_at
            known = known.replace(tzinfo=UTC) if known is not None and known.tzinfo is None else known
            last.modified_at = modified_at if known is None else max(known, modified_at)
        return None
    row = CarVersion(
        site_id=car.site_id, car_id=car.id, source=source, vin=(vehicle.get("vin") or None),
        vehicle=vehicle, status=car.status, removed=removed, modified_at=modified_at,
    )
    db.session.add(row)
    return row


def _same(old: dict[str, Any], new: dict[str, Any]) -> bool:
    """Equal but for the sender's save time: a re-save that changed nothing is no new version."""
    return {k: v for k, v in old.items() if k != "modified_at"} == {k: v for k, v in new.items() if k != "modified_at"}


def record_payload(car_id: int, dest: Any, *, operation: str, outcome: str, payload: dict[str, Any] | None,
                   http_status: int | None = None, error: str | None = None) -> None:
    db.session.add(SentPayload(
        car_id=car_id, destination_id=dest.id, marketplace=dest.marketplace, operation=operation,
        outcome=outcome, payload=payload, http_status=http_status, error=(error or None) and error[:2000],
    ))


def car_for_vin(site_id: str, vin: str) -> int | None:
    """The car a source's latest versions tie to this VIN, if any (the merge's key)."""
    return db.session.scalar(
        select(CarVersion.car_id).where(CarVersion.site_id == site_id, CarVersion.vin == vin)
        .order_by(CarVersion.id.desc()).limit(1)
    )


def cars_by_vin(site_id: str, *, besides: str) -> dict[str, str]:
    """VIN → car_ref of the cars other sources than ``besides`` describe at the site (the
    newest such version per VIN wins): where a pulled vehicle belongs."""
    from app.listings.models import Car

    newest = (
        select(func.max(CarVersion.id))
        .where(CarVersion.site_id == site_id, CarVersion.source != besides, CarVersion.vin.is_not(None),
               CarVersion.removed.is_(False))
        .group_by(CarVersion.vin)
    )
    rows = db.session.execute(
        select(CarVersion.vin, Car.car_ref).join(Car, Car.id == CarVersion.car_id).where(CarVersion.id.in_(newest))
    )
    return {vin: car_ref for vin, car_ref in rows}


def car_history(car_id: int, *, limit: int = 200) -> dict[str, list[dict[str, Any]]]:
    """Both histories of one car, newest first."""
    versions = db.session.scalars(
        select(CarVersion).where(CarVersion.car_id == car_id).order_by(CarVersion.id.desc()).limit(limit)
    )
    sent = db.session.scalars(
        select(SentPayload).where(SentPayload.car_id == car_id).order_by(SentPayload.id.desc()).limit(limit)
    )
    return {
        "versions": [
            {"source": v.source, "receivedAt": isoformat(v.received_at), "modifiedAt": isoformat(v.modified_at),
             "status": v.status, "removed": v.removed, "vehicle": v.vehicle}
            for v in versions
        ],
        "sent": [
            {"marketplace": s.marketplace, "operation": s.operation, "outcome": s.outcome,
             "sentAt": isoformat(s.sent_at), "httpStatus": s.http_status, "error": s.error, "payload": s.payload}
            for s in sent
        ],
    }


def purge(older_than_days: float, *, now: datetime | None = None) -> dict[str, int]:
    """Drop history older than the retention, except each source's latest version of each car
    (the merge reads it). Returns the rows removed."""
    cutoff = (now or utcnow()) - timedelta(days=older_than_days)
    keep = select(func.max(CarVersion.id)).group_by(CarVersion.car_id, CarVersion.source)
    versions = db.session.execute(
        delete(CarVersion).where(CarVersion.received_at < cutoff, CarVersion.id.not_in(keep))
    ).rowcount
    sent = db.session.execute(delete(SentPayload).where(SentPayload.sent_at < cutoff)).rowcount
    db.session.commit()
    return {"versions": versions or 0, "sent": sent or 0}
