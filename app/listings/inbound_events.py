"""Every inbound event is recorded, including the ones acknowledged but not synced."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import DateTime, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from app.extensions import db
from app.timeutil import utcnow


class InboundEvent(db.Model):
    __tablename__ = "inbound_events"
    __table_args__ = (UniqueConstraint("site_id", "delivery_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    site_id: Mapped[str] = mapped_column(String(64), index=True)
    delivery_id: Mapped[str] = mapped_column(String(128))
    channel: Mapped[str] = mapped_column(String(16))  # wordpress | dms | api
    family: Mapped[str | None] = mapped_column(String(24))
    event: Mapped[str | None] = mapped_column(String(24))
    car_ref: Mapped[str | None] = mapped_column(String(255))
    outcome: Mapped[str] = mapped_column(String(16))  # queued | ignored | duplicate
    reason: Mapped[str | None] = mapped_column(String(300))
    request_id: Mapped[str | None] = mapped_column(String(100))
    received_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, index=True)
