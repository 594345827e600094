"""What Forecourt remembers between pulls of a source: each vehicle it has seen, and the pull."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, DateTime, ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from app.extensions import db
from app.timeutil import utcnow


class SourceItem(db.Model):
    """One vehicle of one source destination, by VIN."""

    __tablename__ = "source_items"
    __table_args__ = (UniqueConstraint("destination_id", "vin"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    destination_id: Mapped[int] = mapped_column(ForeignKey("destinations.id", ondelete="CASCADE"), index=True)
    vin: Mapped[str] = mapped_column(String(17))
    car_ref: Mapped[str] = mapped_column(String(255))
    fingerprint: Mapped[str | None] = mapped_column(String(64))
    # When a pull last found it changed, new, or back after missing (unchanged sightings are not
    # written, so a no-change pull writes no rows).
    last_seen_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    missing_pulls: Mapped[int] = mapped_column(Integer, default=0)
    missing_since: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    removed: Mapped[bool] = mapped_column(Boolean, default=False)


class SourcePull(db.Model):
    """One pull of a source: what it read and what it did."""

    __tablename__ = "source_pulls"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    destination_id: Mapped[int] = mapped_column(ForeignKey("destinations.id", ondelete="CASCADE"), index=True)
    outcome: Mapped[str] = mapped_column(String(16))  # complete | partial | shrunk | failed | rate_limited
    total: Mapped[int | None] = mapped_column(Integer)
    counts: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    error: Mapped[str | None] = mapped_column(String(500))
    started_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
