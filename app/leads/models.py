"""A shopper's enquiry and its delivery to each lead destination.

Personal data (names, email, phone, message) lives only in ``Lead.person``, encrypted at rest
like credentials; ``email_hash`` (a keyed hash) finds a shopper's leads for erasure without
decrypting every row. Nothing else here is personal: ids, the car, statuses, the remote's
customer id and landing URL.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, DateTime, ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.extensions import db
from app.listings.statuses import SyncStatus
from app.security.crypto import EncryptedJSON
from app.timeutil import utcnow


class Lead(db.Model):
    __tablename__ = "leads"
    # A re-sent form (the plugin's outbox, a double click) is the same lead, never a second one.
    __table_args__ = (UniqueConstraint("site_id", "submission_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    site_id: Mapped[str] = mapped_column(ForeignKey("sites.id", ondelete="CASCADE"), index=True)
    submission_id: Mapped[str] = mapped_column(String(128))
    car_id: Mapped[int | None] = mapped_column(ForeignKey("cars.id", ondelete="SET NULL"), index=True)
    car_ref: Mapped[str | None] = mapped_column(String(255))
    vin: Mapped[str | None] = mapped_column(String(32))
    form: Mapped[str] = mapped_column(String(32), default="forecourt")
    # {first_name, last_name, email, phone, message, source_url}
    person: Mapped[dict[str, Any]] = mapped_column(EncryptedJSON)
    email_hash: Mapped[str] = mapped_column(String(64), index=True)
    request_id: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, index=True)

    deliveries: Mapped[list[LeadDelivery]] = relationship(
        back_populates="lead", cascade="all, delete-orphan", order_by="LeadDelivery.id"
    )


class LeadDelivery(db.Model):
    __tablename__ = "lead_deliveries"
    __table_args__ = (UniqueConstraint("lead_id", "destination_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    lead_id: Mapped[int] = mapped_column(ForeignKey("leads.id", ondelete="CASCADE"), index=True)
    destination_id: Mapped[int] = mapped_column(ForeignKey("destinations.id", ondelete="CASCADE"), index=True)
    status: Mapped[str] = mapped_column(String(16), default=SyncStatus.PENDING)
    remote_id: Mapped[str | None] = mapped_column(String(255))
    redirect_url: Mapped[str | None] = mapped_column(String(2048))
    duplicate: Mapped[bool] = mapped_column(Boolean, default=False)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[dict[str, Any] | None] = mapped_column(JSON)  # connector messages: no personal data
    delivered_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, onupdate=utcnow)

    lead: Mapped[Lead] = relationship(back_populates="deliveries")
