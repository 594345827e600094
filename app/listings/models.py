"""Per-car state: canonical data, per-destination sync state, and the attempt log."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.extensions import db
from app.timeutil import utcnow


class Car(db.Model):
    __tablename__ = "cars"
    __table_args__ = (UniqueConstraint("site_id", "car_ref"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    site_id: Mapped[str] = mapped_column(ForeignKey("sites.id", ondelete="CASCADE"), index=True)
    car_ref: Mapped[str] = mapped_column(String(255))
    source: Mapped[str] = mapped_column(String(16))  # wordpress | dms
    vehicle: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)  # canonical Vehicle
    status: Mapped[str | None] = mapped_column(String(16))  # desired marketplace status
    source_modified_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    ever_published: Mapped[bool] = mapped_column(Boolean, default=False)
    mapping_errors: Mapped[dict[str, str]] = mapped_column(JSON, default=dict)
    missing_since: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    missing_feeds: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), default=utcnow, onupdate=utcnow
    )

    sync_states: Mapped[list[SyncState]] = relationship(
        back_populates="car", cascade="all, delete-orphan"
    )


class SyncState(db.Model):
    """Where one car stands at one destination."""

    __tablename__ = "sync_states"
    __table_args__ = (UniqueConstraint("car_id", "destination_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    car_id: Mapped[int] = mapped_column(ForeignKey("cars.id", ondelete="CASCADE"), index=True)
    destination_id: Mapped[int] = mapped_column(
        ForeignKey("destinations.id", ondelete="CASCADE"), index=True
    )
    remote_id: Mapped[str | None] = mapped_column(String(255))
    external_ref: Mapped[str | None] = mapped_column(String(255))
    fingerprint: Mapped[str | None] = mapped_column(String(64))
    payload: Mapped[dict[str, Any] | None] = mapped_column(JSON)  # last payload the remote accepted
    status: Mapped[str] = mapped_column(String(16), default="pending")
    remote_status: Mapped[str | None] = mapped_column(String(16))
    last_error: Mapped[dict[str, Any] | None] = mapped_column(JSON)  # {"message", "fields", ...}
    warnings: Mapped[list[str]] = mapped_column(JSON, default=list)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_attempt_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    last_synced_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), default=utcnow, onupdate=utcnow
    )

    car: Mapped[Car] = relationship(back_populates="sync_states")


class SyncRun(db.Model):
    """A batch of syncs (a Sync Now of every car, a reconciliation, a feed) with its counts."""

    __tablename__ = "sync_runs"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    site_id: Mapped[str] = mapped_column(ForeignKey("sites.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(32))
    counts: Mapped[dict[str, int]] = mapped_column(JSON, default=dict)
    details: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    started_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class SyncAttempt(db.Model):
    __tablename__ = "sync_attempts"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    car_id: Mapped[int | None] = mapped_column(
        ForeignKey("cars.id", ondelete="SET NULL"), index=True
    )
    destination_id: Mapped[int | None] = mapped_column(
        ForeignKey("destinations.id", ondelete="SET NULL"), index=True
    )
    run_id: Mapped[int | None] = mapped_column(ForeignKey("sync_runs.id", ondelete="SET NULL"))
    job_id: Mapped[str | None] = mapped_column(String(64))
    operation: Mapped[str] = mapped_column(String(16))  # create | update | delete | noop | ...
    method: Mapped[str | None] = mapped_column(String(8))
    path: Mapped[str | None] = mapped_column(String(500))
    http_status: Mapped[int | None] = mapped_column(Integer)
    duration_ms: Mapped[float | None] = mapped_column(Float)
    outcome: Mapped[str] = mapped_column(String(24))  # done | retry | fix_input | reauth | ...
    request_id: Mapped[str | None] = mapped_column(String(100))
    error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, index=True)
